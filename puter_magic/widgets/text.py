"""What the panel says: the status badge, counts and labels, built from the session's plain values. Pure.

    badge_for(status).html()     # '<span class="puter-badge puter-badge-ok" …>Connected as admin</span>'

Every text that came from a server is escaped here, so a reason such as `<html>` shows as text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..datatypes import ModelInfo, ProviderStatus

LOW_CREDIT_USD = 0.05  # below this much credit left, the badge turns amber
NOT_LOGGED_IN = "not logged in"  # the error PuterProvider.status() reports when there is no token
COLOURS = {"ok": "#2e7d32", "idle": "#6b7280", "warn": "#b45309", "error": "#c62828"}
REASON_LIMIT = 70


@dataclass(frozen=True)
class Badge:
    """One state of the status badge: its text, its kind (ok, idle, warn, error) and the full reason."""

    text: str
    kind: str
    detail: str = ""

    def html(self) -> str:
        colour = COLOURS.get(self.kind, COLOURS["idle"])
        style = (
            f"background:{colour};color:#fff;border-radius:0.8em;padding:0.15em 0.7em;"
            "font-size:0.9em;white-space:nowrap"
        )
        return f'<span class="puter-badge puter-badge-{self.kind}" style="{style}">{html.escape(self.text)}</span>'


CHECKING = Badge("Checking…", "idle")

STOP_TIP = "Stop the answer being streamed, and the panel's own work (Fetch, status, login)"
STOP_TIP_OLD_KERNEL = (
    "Stop the panel's work (Fetch, status, login). This kernel handles clicks only between cells: "
    "to stop a %%puter answer, interrupt the kernel (ipykernel ≥ 7.4 lets Stop do it)"
)


def stop_message(answers: int, jobs: int, *, old_kernel: bool = False) -> str:
    """What the status line says after Stop: what was stopped, or how to stop an answer."""
    if answers:
        what = "the answer" if answers == 1 else f"{answers} answers"
        return f"Stopped {what}: the part that arrived is kept, flagged as interrupted."
    if jobs:
        return "Stopped."
    if old_kernel:
        return "Nothing to stop here. To stop a %%puter answer in this kernel, interrupt it (■ or I,I)."
    return "Nothing to stop: no answer is streaming."


def short_reason(text: str | None, limit: int = REASON_LIMIT) -> str:
    """The first clause of an error's one-line text (the hint after " — " dropped), at most `limit` characters."""
    reason = " ".join((text or "unknown error").split(" — ", 1)[0].split())
    return reason if len(reason) <= limit else reason[: limit - 1].rstrip() + "…"


def badge_for(status: ProviderStatus, *, low_credit: float = LOW_CREDIT_USD) -> Badge:
    """Connected as <user> (green), credits low or the account refused (amber), not connected (grey), reachable +
    models, or an error."""
    if status.user is not None:
        name = status.user.username
        if status.error:  # logged in, yet refused (an e-mail not confirmed yet): what to do is in the tooltip
            reason = short_reason(status.error)
            return Badge(f"{reason[:1].upper()}{reason[1:]} · {name}", "warn", status.error)
        remaining = status.credits.remaining_usd if status.credits else None
        if remaining is not None and remaining < low_credit:
            return Badge(f"Credits low: ${remaining:.2f} left · {name}", "warn", f"Connected as {name}")
        return Badge(f"Connected as {name}", "ok", status.origin)
    if status.model_count is not None:
        return Badge(f"Reachable · {count_text(status.model_count)}", "ok", status.origin)
    if status.reachable and status.error == NOT_LOGGED_IN:
        return Badge("Not connected", "idle", f"{status.origin}: log in below")
    if not status.reachable and status.provider != "puter":
        return Badge(f"Unreachable: {short_reason(status.error)}", "error", status.error or "")
    return Badge(f"Error: {short_reason(status.error)}", "error", status.error or "")


def error_badge(reason: str) -> Badge:
    return Badge(f"Error: {short_reason(reason)}", "error", reason)


def count_text(count: int) -> str:
    if count == 0:
        return "no models"
    return "1 model" if count == 1 else f"{count:,} models"


def provider_label(name: str, base_url: str) -> str:
    """The provider selector's label: `Puter — https://api.puter.com`, `ollama — http://localhost:11434/v1`."""
    return f"{'Puter' if name == 'puter' else name} — {base_url}"


def modalities_text(info: ModelInfo | None) -> str:
    """What the model reads and writes, when its server says: "reads text, image · writes text"; "" otherwise."""
    if info is None:
        return ""
    said = [(verb, kinds) for verb, kinds in (("reads", info.input_modalities), ("writes", info.output_modalities))]
    return " · ".join(f"{verb} {', '.join(kinds) or 'nothing'}" for verb, kinds in said if kinds is not None)


def modalities_html(info: ModelInfo | None) -> str:
    """modalities_text() as the small grey label beside the model; "" when the server did not say."""
    text = modalities_text(info)
    if not text or info is None:
        return ""
    tip = html.escape(f"what the server says {info.id} reads and writes", quote=True)
    return f'<span class="puter-modalities" title="{tip}" style="color:{COLOURS["idle"]}">{html.escape(text)}</span>'


def thread_label(name: str, turns: int) -> str:
    return f"{name} ({turns} turn{'' if turns == 1 else 's'})"


def message_html(text: str, kind: str = "info") -> str:
    """The status line under the panel: a short sentence, red for errors."""
    colour = {"error": COLOURS["error"], "warn": COLOURS["warn"], "ok": COLOURS["ok"]}.get(kind, COLOURS["idle"])
    return f'<span class="puter-message puter-message-{kind}" style="color:{colour}">{html.escape(text)}</span>'


WINDOW_SOURCES = {
    "override": "set in the notebook (context_tokens)",
    "learned": "learned from the server's refusal of a longer request",
    "server": "as the server says",
    "default": "the default: the server has not said",
}
WINDOW_FULL = 0.75  # from this share of the window on, the bar turns amber (at 100% red: older turns are left out)


def window_text(tokens: int, used: int) -> str:
    """The window bar's label: "Window 4,096 tokens · thread ~1,210 (30%)"."""
    text = f"Window {tokens:,} tokens · thread ~{used:,} ({used / tokens:.0%})"
    return f"{text} · older turns will be left out" if used >= tokens else text


def window_kind(tokens: int, used: int) -> str:
    """The bar's style: "" while there is room, "warning" when it is filling up, "danger" when it is full."""
    return "danger" if used >= tokens else "warning" if used >= WINDOW_FULL * tokens else ""


def window_html(tokens: int, source: str, used: int) -> str:
    """window_text() as the small grey label before the bar; the tooltip says where the window came from."""
    tip = html.escape(f"the model's window, {WINDOW_SOURCES.get(source, source)}", quote=True)
    text = html.escape(window_text(tokens, used))
    return f'<span class="puter-window" title="{tip}" style="color:{COLOURS["idle"]}">{text}</span>'
