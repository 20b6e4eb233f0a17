"""What the tool loop adds per step, over the model's own time.

In this process, on the in-memory provider (testing/memory.py: no socket, so the model's own time is only what
the library does to send and read one answer). One round reads, streamed: a tool loop of 8 steps (7 answers
calling a trivial tool, then a final answer; approve="all") and, as the baseline, 8 plain requests of the same
session, one after another — the same 8 answers through Reply alone. The loop's overhead per step is
(loop − baseline) / 8: building each step's request with the exchange so far, the approval decision, running
the call and shaping its result, the tool messages and the bookkeeping. 25 rounds, the two interleaved;
the median, and the best loop round less the best baseline round.
"""

from __future__ import annotations

import time

from common import Measurement, median_and_iqr

from puter_magic.config import Settings
from puter_magic.core.loop import LoopThread
from puter_magic.core.sessions import Session
from puter_magic.core.tool_ask import ask_with_tools
from puter_magic.datatypes import ToolCall
from puter_magic.testing.memory import MemoryProvider

STEPS = 8
RUNS = 25  # the module's docstring says these two numbers
TARGET_MS = 2.0


def lookup(key: str) -> str:
    """A trivial tool: its own time is not the loop's."""
    return f"value of {key}"


def run() -> dict[str, Measurement]:
    loop = LoopThread("bench-tool-loop")
    memory = MemoryProvider()
    session = Session(Settings(api_origin="http://127.0.0.1:9", token=None), provider=memory, loop=loop)
    session.set_model(memory.model_list[0].id)
    tools = [lookup]

    def with_tools() -> float:
        for step in range(STEPS - 1):
            memory.enqueue("Looking. ", ToolCall(f"c{step}", "lookup", {"key": f"k{step}"}))
        memory.enqueue("The ", "answer.")
        started = time.perf_counter()
        reply = ask_with_tools(session, "Find it.", tools, approve="all", history=False, max_steps=STEPS)
        for _ in reply:
            pass
        elapsed = time.perf_counter() - started
        assert reply.text() == "The answer." and len(reply.steps) == 2 * (STEPS - 1)
        return elapsed

    def plain() -> float:
        for _ in range(STEPS - 1):
            memory.enqueue("Looking. ", "done")
        memory.enqueue("The ", "answer.")
        started = time.perf_counter()
        for _ in range(STEPS):
            for _ in session.ask("Find it.", history=False):
                pass
        return time.perf_counter() - started

    try:
        with_tools(), plain()  # warm: the loop thread, imports
        loops, plains = [], []
        for _ in range(RUNS):
            loops.append(with_tools())
            plains.append(plain())
    finally:
        session.close()
        loop.close()
    overhead = [(a - b) / STEPS for a, b in zip(loops, plains, strict=True)]
    return {
        "tool loop, per step": Measurement("loop", [t / STEPS for t in loops]),
        "plain request (the model's own time here)": Measurement("plain", [t / STEPS for t in plains]),
        "overhead per step": Measurement("overhead", overhead),
    }


def report(result: dict[str, Measurement]) -> str:
    figures = headline(result)
    lines = ["| case | median | IQR | best round |", "|---|---|---|---|"]
    for name, measurement in result.items():
        best = min(measurement.samples) * 1000
        if name == "overhead per step":  # a difference: the best loop round less the best baseline round
            best = figures["overhead best ms"]
        lines.append(f"| {name} | {median_and_iqr(measurement, digits=3)} | {best:.3f} ms |")
    lines += [
        "",
        f"The tool loop adds **{figures['overhead ms']:.3f} ms per step** (median; best rounds' difference "
        f"{figures['overhead best ms']:.3f} ms) over a plain request, against the {TARGET_MS:.0f} ms target.",
    ]
    return "\n".join(lines)


def headline(result: dict[str, Measurement]) -> dict[str, float]:
    overhead = result["overhead per step"]
    loops, plains = result["tool loop, per step"], result["plain request (the model's own time here)"]
    return {
        "overhead ms": overhead.median * 1000,
        "overhead best ms": (min(loops.samples) - min(plains.samples)) * 1000,
        "step ms": result["tool loop, per step"].median * 1000,
    }


if __name__ == "__main__":
    print(report(run()))
