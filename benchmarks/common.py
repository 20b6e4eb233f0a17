"""Shared helpers for the benchmarks: medians, a local server in its own process, machine facts."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKERS = HERE / "workers.py"
PEERS_VENV = Path(os.environ.get("BENCH_PEERS_VENV", ROOT / ".cache" / "bench-peers"))
PEERS_SETUP = "bash benchmarks/peers/setup.sh"


@dataclass
class Measurement:
    name: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def repeat(fn: Callable[[], float], runs: int) -> list[float]:
    return [fn() for _ in range(runs)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_puter_process(**settings: object) -> Iterator[dict[str, str]]:
    """The local Puter server in a separate process (so it does not share our GIL); yields its facts."""
    port = free_port()
    code = f"import sys; from puter_magic.testing import run_forever; run_forever('127.0.0.1', {port}, out=sys.stdout)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        facts: dict[str, str] = {}
        for line in proc.stdout:
            if ":" in line and line.startswith("  "):
                key, _, value = line.strip().partition(":")
                facts[key.strip()] = value.strip().split("  ")[0]
            if line.startswith("Press Ctrl-C"):
                break
        origin = f"http://127.0.0.1:{port}"
        if settings:
            httpx.post(f"{origin}/__fake__/settings", json=settings).raise_for_status()
        facts["origin"] = origin
        facts["port"] = str(port)
        facts["pid"] = str(proc.pid)
        yield facts
    finally:
        proc.terminate()
        proc.wait(10)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU seconds a process has used so far (/proc/PID/stat; 0.0 where that is unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": memory_total(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def memory_total() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            kib = int(info.readline().split()[1])
        return f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def versions(*packages: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def peers_python() -> Path:
    """The peers' interpreter (benchmarks/peers/setup.sh installs it); raises PeersMissing without it."""
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        raise PeersMissing(f"no peers' venv at {PEERS_VENV}: run `{PEERS_SETUP}` (make bench does)")
    return python


class PeersMissing(RuntimeError):
    """The peers' venv is not installed."""


def versions_in(python: Path | str, *packages: str) -> dict[str, str]:
    """Package versions as another interpreter sees them."""
    code = (
        "import json\nfrom importlib.metadata import PackageNotFoundError, version\nfound = {}\n"
        f"for name in {list(packages)!r}:\n"
        "    try:\n        found[name] = version(name)\n"
        "    except PackageNotFoundError:\n        found[name] = 'not installed'\n"
        "print(json.dumps(found))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def worker(python: Path | str, kind: str, name: str, env: dict[str, str] | None = None, **args: Any) -> Any:
    """Run one case of workers.py in a fresh process of `python`; its JSON result."""
    command = [str(python), str(WORKERS), kind, name, json.dumps(args)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"worker {kind}/{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def quartiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return samples[0], samples[0]
    q = statistics.quantiles(samples, n=4)
    return q[0], q[2]


SCALES = {"ms": 1e3, "µs": 1e6}


def median_and_iqr(measurement: Measurement, unit: str = "ms", digits: int = 1) -> str:
    """A table's median and IQR cells for a measurement in seconds: `12.3 ms | 11.9–12.8 ms`."""
    scale = SCALES[unit]
    low, high = quartiles(measurement.samples)
    shown = f",.{digits}f"
    return f"{measurement.median * scale:{shown}} {unit} | {low * scale:{shown}}–{high * scale:{shown}} {unit}"


def dump(obj: object) -> str:
    return json.dumps(obj, indent=2)


def interleave(rounds: int, cases: dict[str, Callable[[], Any]], *, seed: int = 0) -> dict[str, list[Any]]:
    """Run every case once per round, in a fresh shuffled order each round, so drift hits every case alike."""
    import random

    rng = random.Random(seed)
    results: dict[str, list[Any]] = {name: [] for name in cases}
    order = list(cases)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            results[name].append(cases[name]())
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def overlap(a: Measurement, b: Measurement) -> float:
    """1.0 when the interquartile ranges of two measurements overlap (their difference is within the noise)."""
    a_low, a_high = quartiles(a.samples)
    b_low, b_high = quartiles(b.samples)
    return 1.0 if a_low <= b_high and b_low <= a_high else 0.0
