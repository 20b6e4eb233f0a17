"""Memory after a long conversation, and the cost of trimming a long history for each request.

Memory: a fresh Python process (workers.py) holds a Session, the object `%%puter` uses, and asks it 2,000 questions
through the real request path (`Session.chat`: ask → Reply → PuterProvider.complete → recorded) against the local Puter
server's `echo` model, which answers with the prompt itself. RSS comes from /proc/self/status (VmRSS now, VmHWM the
peak), before the turns (client, loop thread and connection already up) and after them.

Trimming: `Conversations.messages()` (what `Session.prepare` calls to build every request) on threads of N recorded
turns, N from 250 to 4,000, µs per call; once with the default 8,192-token budget (the oldest turns are dropped)
and once with a budget that keeps every turn (the whole history is sent: the worst case). The key is a cell id not
in the thread, as for a new notebook cell (a full scan). The per-turn slope is a least-squares fit.
"""

from __future__ import annotations

import sys

from common import local_puter_process, worker

TURNS = 2_000
CHARS = 400  # per prompt; the echo answer is as long
LENGTHS = (250, 500, 1_000, 2_000, 4_000)


def run_memory(turns: int = TURNS) -> dict:
    with local_puter_process() as facts:
        args = {"origin": facts["origin"], "port": facts["port"], "token": facts["Admin token"]}
        return worker(sys.executable, "memory", "session", turns=turns, chars=CHARS, **args)


def run_trim() -> dict:
    return worker(sys.executable, "trim", "messages", lengths=list(LENGTHS), chars=CHARS, calls=200_000, repeats=7)


def run() -> dict:
    return {"memory": run_memory(), "trim": run_trim()}


def slope(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares y = a + b·x: (a, b)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - b * mx, b


def report(result: dict) -> str:
    mem, rows = result["memory"], result["trim"]["rows"]
    grown = (mem["rss_after"] - mem["rss_before"]) / 1024
    text_mib = mem["text_chars"] / 2**20
    lines = [
        "| memory | |",
        "|---|---|",
        f"| turns asked through `Session.chat` (`echo` model, {CHARS}-char prompts and answers) "
        f"| {mem['turns_kept']:,} in {mem['elapsed']:.1f} s |",
        f"| RSS before the turns (Python, a Session without IPython, its httpx client and loop thread) "
        f"| {mem['rss_before'] / 1024:.1f} MiB |",
        f"| RSS after {mem['turns_kept']:,} turns | {mem['rss_after'] / 1024:.1f} MiB |",
        f"| peak RSS (VmHWM) | {mem['peak'] / 1024:.1f} MiB |",
        f"| growth | {grown:.1f} MiB, {grown * 1024 / max(1, mem['turns_kept']):.2f} KiB per turn "
        f"(the turns' text is {text_mib:.2f} MiB) |",
        "",
        "| history (turns) | `messages()`, 8,192-token budget | turns sent | `messages()`, whole history kept "
        "| turns sent |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['turns']:,} | {row['trimmed']:.1f} µs | {row['trimmed_sent']} | {row['whole']:.1f} µs "
            f"| {row['whole_sent']:,} |"
        )
    h = headline(result)
    lines += [
        "",
        f"Per-turn slope (least squares): {h['slope trimmed']:.3f} µs per turn of history with the default budget, "
        f"{h['slope whole']:.3f} µs per turn when every turn is sent; from {rows[0]['turns']:,} to "
        f"{rows[-1]['turns']:,} turns ({rows[-1]['turns'] // rows[0]['turns']}× the history) the time grows "
        f"{rows[-1]['trimmed'] / rows[0]['trimmed']:.1f}× (trimmed) and {rows[-1]['whole'] / rows[0]['whole']:.1f}× "
        "(whole): linear at worst.",
    ]
    return "\n".join(lines)


def headline(result: dict) -> dict[str, float]:
    mem, rows = result["memory"], result["trim"]["rows"]
    return {
        "peak MiB": mem["peak"] / 1024,
        "growth MiB": (mem["rss_after"] - mem["rss_before"]) / 1024,
        "slope trimmed": slope([(r["turns"], r["trimmed"]) for r in rows])[1],
        "slope whole": slope([(r["turns"], r["whole"]) for r in rows])[1],
        "trimmed at 2000": next(r["trimmed"] for r in rows if r["turns"] == 2_000),
        "growth trimmed": rows[-1]["trimmed"] / rows[0]["trimmed"],
        "growth whole": rows[-1]["whole"] / rows[0]["whole"],
    }
