"""Extension load time: `%load_ext puter_magic` vs `%load_ext jupyter_ai_magics`, each in a fresh IPython process.

Each process builds the shell a kernel builds on (IPython's InteractiveShell) and times `run_line_magic("load_ext",
NAME)` itself; the parent also times the whole process. A process that builds the shell and loads nothing is the
baseline of each venv, so "process wall time above the bare shell" is what the extension costs a user starting a
kernel. puter_magic runs from the project's venv, jupyter-ai-magics from the peers' venv (same CPython build, same
IPython version: benchmarks/peers/setup.sh pins it). Rounds interleaved in a shuffled order; medians.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from common import Measurement, PeersMissing, interleave, ms, peers_python, quartiles, worker

RUNS = 15
PUTER_MAGIC = "%load_ext puter_magic"
JUPYTER_AI = "%load_ext jupyter_ai_magics"
SHELL_PROJECT = "bare shell, project venv (baseline)"
SHELL_PEERS = "bare shell, peers' venv (baseline)"


def timed_worker(python: Path | str, extension: str, magic: str) -> dict[str, float]:
    start = time.perf_counter()
    result = worker(python, "load", "extension", extension=extension, magic=magic)
    result["wall"] = time.perf_counter() - start
    return result


def run(runs: int = RUNS) -> dict[str, object]:
    cases = {
        PUTER_MAGIC: lambda: timed_worker(sys.executable, "puter_magic", "puter"),
        SHELL_PROJECT: lambda: timed_worker(sys.executable, "", ""),
    }
    missing = None
    try:
        peers = peers_python()
        cases[JUPYTER_AI] = lambda: timed_worker(peers, "jupyter_ai_magics", "ai")
        cases[SHELL_PEERS] = lambda: timed_worker(peers, "", "")
    except PeersMissing as error:
        missing = str(error)
    for case in cases.values():  # warm the file cache
        case()
    results = interleave(runs, cases)
    found = {}
    for label, samples in results.items():
        found[label] = {
            "wall": Measurement(label, [s["wall"] for s in samples]),
            "load": Measurement(label, [s["load"] or 0.0 for s in samples]),
        }
    return {"found": found, "missing": missing}


def report(result: dict[str, object]) -> str:
    found: dict[str, dict[str, Measurement]] = result["found"]  # type: ignore[assignment]
    base = {PUTER_MAGIC: SHELL_PROJECT, JUPYTER_AI: SHELL_PEERS}
    lines = [
        "| case | `load_ext` itself (timed in the process) | process wall time | above the bare shell |",
        "|---|---|---|---|",
    ]
    for label in (PUTER_MAGIC, JUPYTER_AI, SHELL_PROJECT, SHELL_PEERS):
        if label not in found:
            lines.append(f"| {label} | not measured: {result['missing']} | | |")
            continue
        wall, load = found[label]["wall"], found[label]["load"]
        low, high = quartiles(wall.samples)
        load_text = ms(load.median) if label in base else "—"
        above = ms(wall.median - found[base[label]]["wall"].median) if label in base else "—"
        spread = f"(IQR {low * 1000:.0f}–{high * 1000:.0f})"
        lines.append(f"| {label} | {load_text} | {ms(wall.median)} {spread} | {above} |")
    if JUPYTER_AI in found:
        h = headline(result)
        lines += [
            "",
            f"`%load_ext puter_magic` is **{h['load ratio']:.1f}×** faster than `%load_ext jupyter_ai_magics` "
            f"(the load itself) and the process is {h['wall ratio']:.1f}× faster end to end "
            f"({h['above ratio']:.1f}× on the time above the bare shell). Target: ≥ 5×.",
        ]
    return "\n".join(lines)


def headline(result: dict[str, object]) -> dict[str, float]:
    found: dict[str, dict[str, Measurement]] = result["found"]  # type: ignore[assignment]
    out = {"load ms": found[PUTER_MAGIC]["load"].median * 1000}
    if JUPYTER_AI in found:
        pm, jai = found[PUTER_MAGIC], found[JUPYTER_AI]
        out["load ratio"] = jai["load"].median / pm["load"].median
        out["wall ratio"] = jai["wall"].median / pm["wall"].median
        above_pm = pm["wall"].median - found[SHELL_PROJECT]["wall"].median
        above_jai = jai["wall"].median - found[SHELL_PEERS]["wall"].median
        out["above ratio"] = above_jai / above_pm if above_pm > 0 else float("inf")
    return out
