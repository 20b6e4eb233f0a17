"""The cost of fitting a long thread into a small window, per request.

In this process, on the in-memory provider (no socket): a thread of 200 recorded turns (prompts of 200 to 600
characters, answers twice as long, mixed prose, code and JSON) and the next prompt, fitted to a 4,096-token window
(`--context 4096`), so most turns are left out. Cases, 15 rounds of 20 calls after a warm-up, µs per call:
`Windows.fitting(…).messages()` (choosing the window and trimming newest-first by the scaled estimate: what
`Session.ask()` does before anything is sent), `Fitting.near_edge()` (whether the request comes close to the window:
what the Reply checks before it asks a server's tokenizer or, on Puter, its model list; counted on the trimmed
request), `Fitting.estimate()` (the whole thread, untrimmed, for comparison), and the whole `Session.ask()` (the
request built, nothing sent). No target: the figure is there to be watched.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from common import Measurement, median_and_iqr

TURNS = 200
WINDOW = 4096
ROUNDS, CALLS = 15, 20
PIECES = (
    "The quick brown fox jumps over the lazy dog while the committee reviews the quarterly figures. ",
    "def mean(values):\n    return sum(values) / len(values) if values else 0.0\n",
    '{"id": 17, "name": "window", "tokens": [512, 2048, 8192], "ok": true}\n',
)


def _text(n: int, chars: int) -> str:
    piece = PIECES[n % len(PIECES)]
    return (piece * (chars // len(piece) + 1))[:chars]


def _per_call(fn: Callable[[], object]) -> list[float]:
    fn()  # warm-up
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(CALLS):
            fn()
        samples.append((time.perf_counter() - started) / CALLS)
    return samples


def run() -> dict[str, Measurement]:
    from puter_magic.config import Settings
    from puter_magic.core.conversation import Turn
    from puter_magic.core.sessions import Session
    from puter_magic.testing.memory import MemoryProvider

    provider = MemoryProvider()
    session = Session(Settings(api_origin="http://127.0.0.1:9", token=None), provider=provider)
    try:
        session.set_model("memory-model")
        for n in range(TURNS):
            prompt = _text(n, 200 + (n * 37) % 400)
            session.conversations.record(Turn(prompt, _text(n + 1, 2 * len(prompt)), f"cell-{n}", "memory-model"))
        prompt = "And what follows from all of that?"
        parts = session.conversations.parts(prompt, None)

        def fitted() -> object:
            return session.windows.fitting(provider, "memory-model", None, parts, override=WINDOW).messages()

        fitting = session.windows.fitting(provider, "memory-model", None, parts, override=WINDOW)
        fitting.messages()
        result = {
            "fitting(…).messages()": Measurement("fit", _per_call(fitted)),
            "Fitting.near_edge()": Measurement("near edge", _per_call(fitting.near_edge)),
            "Fitting.estimate(), untrimmed": Measurement("estimate", _per_call(fitting.estimate)),
            "Session.ask(), nothing sent": Measurement(
                "ask", _per_call(lambda: session.ask(prompt, context=WINDOW, key="next"))
            ),
        }
        result["kept"] = Measurement("kept", [float(TURNS - fitting.left_out)])
        result["whole"] = Measurement("whole", [float(fitting.estimate())])
        return result
    finally:
        session.close()


def report(result: dict[str, Measurement]) -> str:
    lines = ["| case | median | IQR |", "|---|---|---|"]
    for name, measurement in result.items():
        if name in ("kept", "whole"):
            continue
        lines.append(f"| {name} | {median_and_iqr(measurement, 'µs')} |")
    figures = headline(result)
    lines += [
        "",
        f"A {TURNS}-turn thread of about {figures['thread tokens']:,.0f} estimated tokens fits a {WINDOW:,}-token "
        f"window with its newest {figures['kept turns']:.0f} turns, in **{figures['fit us']:,.0f} µs** per request "
        f"({figures['ask us']:,.0f} µs for the whole `Session.ask()`). No target.",
    ]
    return "\n".join(lines)


def headline(result: dict[str, Measurement]) -> dict[str, float]:
    return {
        "fit us": result["fitting(…).messages()"].median * 1e6,
        "near edge us": result["Fitting.near_edge()"].median * 1e6,
        "estimate us": result["Fitting.estimate(), untrimmed"].median * 1e6,
        "ask us": result["Session.ask(), nothing sent"].median * 1e6,
        "kept turns": result["kept"].median,
        "thread tokens": result["whole"].median,
    }


if __name__ == "__main__":
    print(report(run()))
