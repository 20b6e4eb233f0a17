"""What a command shows, in the words of both faces: a Report (Markdown for notebooks, plain text for terminals),
tables, and the one-line status and credit summaries that `%puter status` and `puter-magic status` share.

Pure: the standard library only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .datatypes import Credits, ProviderStatus


@dataclass(frozen=True)
class Report:
    """What a command shows: Markdown in notebooks, plain text in terminals and reprs."""

    markdown: str
    plain: str

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/markdown": self.markdown, "text/plain": self.plain}

    def __repr__(self) -> str:
        return self.plain


def plain(markdown: str) -> str:
    """The little Markdown these reports use (backticks, bold), removed."""
    return markdown.replace("`", "").replace("**", "")


def say(text: str) -> Report:
    return Report(text, plain(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> Report:
    escape = [[str(cell).replace("|", "\\|") for cell in row] for row in rows]
    markdown = "\n".join(
        [f"| {' | '.join(headers)} |", f"|{'---|' * len(headers)}", *(f"| {' | '.join(r)} |" for r in escape)]
    )
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    plain = "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in [headers, *rows]
    )
    if caption:
        markdown, plain = f"{markdown}\n\n{caption}", f"{plain}\n{caption}"
    return Report(markdown, plain)


def status_line(status: ProviderStatus, *, login: str) -> str:
    """One line on a ProviderStatus, in Markdown; `login` is the command that logs in where it is shown."""
    if status.user:
        line = f"Connected to {status.origin} as **{status.user.username}**"
        if status.note:
            line += f" ({status.note})"
        if status.error:  # signed in, but the account cannot be used yet
            return f"{line}, but {status.error}"
        if status.credits and status.credits.remaining_usd is not None:
            line += f" — ${status.credits.remaining_usd:.2f} of credit left"
        return line
    if status.reachable and status.error is not None:
        return f"Not connected to {status.origin}: {status.error.rstrip('. ')} — `{login}`"
    if status.reachable:  # a server without accounts (an OpenAI-compatible one)
        models = f" ({status.model_count} models)" if status.model_count is not None else ""
        return f"Connected to {status.origin}{models}"
    return f"Cannot reach {status.origin}: {status.error}"


def credit_line(credits: Credits) -> str:
    """The credit left, in one line (for %puter usage and puter-magic usage)."""
    if credits.remaining_usd is None:
        return "The server did not report your credit."
    allowance = f" of ${credits.allowance_usd:.2f} this month" if credits.allowance_usd is not None else ""
    return f"${credits.remaining_usd:.2f} left{allowance}."
