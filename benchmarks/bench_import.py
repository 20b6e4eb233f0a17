"""Import cost of `import puter_magic`, in fresh interpreters.

Two views: `python -X importtime` (the import's own cumulative time, precise) and the wall time of the whole
process against a bare interpreter measured in the same run (what a user waits for).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time

from common import Measurement

RUNS = 21
CASES = {
    "python -c pass (baseline)": "",
    "import puter_magic": "puter_magic",
    "import httpx (reference)": "httpx",
}


def wall(module: str) -> float:
    code = f"import {module}" if module else "pass"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def import_time(module: str) -> float:
    """Seconds `python -X importtime` reports as the module's cumulative import time."""
    if not module:
        return 0.0
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
    )
    for line in result.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e6
    raise RuntimeError(f"no importtime line for {module}")


def run() -> list[Measurement]:
    walls = {name: [] for name in CASES}
    imports = {name: [] for name in CASES}
    order = list(CASES.items())
    for module in CASES.values():  # warm the file cache first
        wall(module)
    for _ in range(RUNS):  # interleaved in a fresh random order each round, so drift hits every case alike
        random.shuffle(order)
        for name, module in order:
            walls[name].append(wall(module))
            imports[name].append(import_time(module))
    return [Measurement(name, walls[name]) for name in CASES] + [
        Measurement(f"{name} importtime", imports[name]) for name in CASES
    ]


def report(measurements: list[Measurement]) -> str:
    count = len(CASES)
    base = measurements[0].median
    lines = [
        "| case | import's own time (-X importtime) | process wall time | vs bare interpreter |",
        "|---|---|---|---|",
    ]
    for m, imp in zip(measurements[:count], measurements[count:], strict=True):
        spread = statistics.quantiles(m.samples, n=4)
        lines.append(
            f"| {m.name} | {imp.median * 1000:.1f} ms | {m.median * 1000:.1f} ms "
            f"(IQR {spread[0] * 1000:.0f}–{spread[2] * 1000:.0f}) | {(m.median - base) * 1000:+.1f} ms |"
        )
    return "\n".join(lines)
