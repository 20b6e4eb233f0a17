"""The %%puter line's options: the argparse table, read like a shell would split it, and listed one line each for
`%%puter --help` and `%%puter?`."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.magic_arguments import argument, magic_arguments

from ..core.formats import FORMATS
from ..errors import InputError

if TYPE_CHECKING:
    from ..reports import Report


@magic_arguments()
@argument("-m", "--model", help="model id for this cell (default: the session's model)")
@argument("--provider", help="provider for this cell (default: the session's provider)")
@argument("-t", "--thread", help="conversation thread (default: the active one)")
@argument("-s", "--system", help="system prompt: sets the thread's (or, with --no-history, this cell's)")
@argument("--temperature", type=float, help="sampling temperature")
@argument("--max-tokens", type=int, help="upper bound on the answer's tokens")
@argument("--context", type=int, metavar="N", help="the model's window in tokens, whatever the server says")
@argument("--no-stream", action="store_true", help="wait for the whole answer instead of streaming it")
@argument("--new", action="store_true", help="start the thread over before asking")
@argument("--no-history", action="store_true", help="a one-off question: no context, nothing kept")
@argument("-f", "--format", choices=FORMATS, help="markdown (default), text, code or json")
@argument("--insert", action="store_true", help="with -f code: put the code into a new cell below")
@argument("-o", "--out", metavar="VAR", help="store the answer (for json: the parsed value) in VAR")
@argument("--schema", metavar="TYPE", help="answer as JSON fitting TYPE (a class or JSON schema here, or list[TYPE])")
@argument("--quiet", action="store_true", help="show nothing; use with -o, or to add context silently")
@argument("--raw", action="store_true", help="send the cell as it is: no @{name} expansion")
@argument("--image", action="append", metavar="PATH", help="attach an image file (repeat for more)")
@argument(
    "--draw", action="store_true", help="draw the cell as a picture (Puter's image generation; -m picks the model)"
)
@argument("--size", metavar="WxH", help="with --draw: the picture's size, e.g. 1024x1024")
@argument("--speak", action="store_true", help="say the cell aloud (text-to-speech); -o keeps the audio bytes")
@argument("--speak-answer", action="store_true", help="ask as usual, then say the answer aloud")
@argument("--voice", help="with --speak / --speak-answer: the voice (`%%puter models --voices` lists them)")
@argument("--save", metavar="PATH", help="with --draw / --speak: also write the picture or audio to PATH")
@argument("--map", metavar="VAR", help="ask the cell once per item of VAR (list, dict, Series, DataFrame): @{item}, …")
@argument("--concurrency", type=int, metavar="N", help="with --map: how many items are asked at once (default 8)")
@argument("--tools", metavar="NAMES", help="functions the model may call: names in the notebook or @tool, a,b")
@argument("--approve", choices=("ask", "all", "none"), help="with --tools: ask before each call (default), or not")
@argument("--max-steps", type=int, metavar="N", help="with --tools: at most N requests for this cell (default 8)")
@argument("-h", "--help", action="store_true", help="show this list instead of asking")
def cell_options(line: str) -> None:
    """%%puter [options] — the cell is the prompt; @{name} inserts a variable (\\@{ for a literal @{)."""


def parse_options(line: str) -> Any:
    """The %%puter line, split like a shell would (IPython's own splitter keeps the quotes)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise InputError(f"cannot read the options: {exc}", hint="check the quotes on the %%puter line") from None
    return cell_options.parser.parse_args(argv)


def request_options(args: Any) -> dict[str, Any]:
    """What the %%puter line says of the request itself, the same for one answer, a --map batch and a Dask map."""
    return {
        "model": args.model,
        "system": args.system,
        "provider": args.provider,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
    }


def cell_help() -> str:
    """Every %%puter option, one line each: what `%%puter --help` and `%%puter?` show."""
    lines = ["%%puter [options] — the cell is the prompt; @{name} inserts a variable (\\@{ for a literal @{)", ""]
    for action in cell_options.parser._actions:
        flags = ", ".join(action.option_strings)
        if action.nargs != 0:
            flags += f" {action.metavar or action.dest.upper()}"
        lines.append(f"  {flags:26} {action.help}")
    return "\n".join(lines)


def options_report() -> Report:
    from ..reports import Report

    text = cell_help()
    return Report(f"```text\n{text}\n```", text)
