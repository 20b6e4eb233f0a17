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

import httpx


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
        yield facts
    finally:
        proc.terminate()
        proc.wait(10)


def machine() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "date": time.strftime("%Y-%m-%d"),
    }


def versions(*packages: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def dump(obj: object) -> str:
    return json.dumps(obj, indent=2)
