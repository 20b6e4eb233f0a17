"""How a finished answer is presented: Markdown, plain text, the first code block, or parsed JSON. Pure."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..datatypes import Answer

FORMATS = ("markdown", "text", "code", "json")
_FENCE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+#.-]*)[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M
)


def first_code_block(text: str) -> tuple[str, str]:
    """(language, code) of the first fenced block; the whole text when there is none."""
    match = _FENCE.search(text)
    if match is None:
        return "", text.strip("\n")
    return match.group("lang"), match.group("body").rstrip("\n")


def parse_json(text: str) -> Any:
    """The answer as JSON: a fenced ```json block or the bare text."""
    lang, body = first_code_block(text)
    candidate = body if lang.lower() in ("json", "") else text
    try:
        return json.loads(candidate)
    except ValueError as exc:
        raise InputError(f"the answer is not JSON ({exc})", hint="ask for JSON only, or show it with -f text") from None


def value_of(answer: Answer, fmt: str) -> Any:
    """What `-o VAR` stores: the text, the code, or the parsed JSON."""
    if fmt == "code":
        return first_code_block(answer.text)[1]
    if fmt == "json":
        return parse_json(answer.text)
    return answer.text


def money(usd: float) -> str:
    """Dollars with the digits that matter: $1.25, $0.0042, $0.000013."""
    if usd >= 0.01:
        return f"${usd:.2f}"
    if usd >= 0.0001:
        return f"${usd:.4f}"
    return f"${usd:.6f}".rstrip("0")


def footer(answer: Answer) -> str:
    """One small line under an answer: model, tokens, cost, thread, older turns left out."""
    parts = [answer.model]
    total = answer.usage.total_tokens
    if total is not None:
        parts.append(f"{total:,} tokens{' (estimated)' if answer.usage.estimated else ''}")
    if answer.usage.cost_usd:
        parts.append(money(answer.usage.cost_usd))
    if answer.thread and answer.thread != "default":
        parts.append(f"thread {answer.thread}")
    if answer.left_out:
        parts.append(f"{answer.left_out} older turn{'s' if answer.left_out > 1 else ''} left out to fit the window")
    if answer.interrupted:
        parts.append("interrupted")
    return " · ".join(parts)


def substitution_warning(answer: Answer) -> str | None:
    """One line when the server answered with another model than the one asked for; None otherwise."""
    if not answer.substituted:
        return None
    return f"{answer.requested_model} was not used: the server answered with {answer.model}"


def bundle(answer: Answer, fmt: str, value: Any = None) -> dict[str, Any]:
    """The final MIME bundle of an answer; `value` is value_of(answer, fmt) when already computed."""
    note = footer(answer)
    marker = "\n\n*(interrupted)*" if answer.interrupted else ""
    if fmt == "text":
        return {"text/plain": answer.text + marker}
    if fmt == "code":
        lang, code = first_code_block(answer.text) if value is None else (first_code_block(answer.text)[0], value)
        return {"text/markdown": f"```{lang}\n{code}\n```\n\n<sub>{note}</sub>", "text/plain": code}
    if fmt == "json":
        parsed = parse_json(answer.text) if value is None else value
        data: dict[str, Any] = {"text/plain": json.dumps(parsed, indent=2, ensure_ascii=False)}
        if isinstance(parsed, (dict, list)):
            data["application/json"] = parsed
        return data
    return {"text/markdown": f"{answer.text}{marker}\n\n<sub>{note}</sub>", "text/plain": answer.text + marker}
