"""Run every benchmark in one go and write benchmarks/RESULTS.md (`make bench`)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_import  # noqa: E402
import bench_openai_stream  # noqa: E402
import bench_proxy  # noqa: E402
import bench_puter_stream  # noqa: E402
import bench_render  # noqa: E402
from common import machine, versions  # noqa: E402


def main() -> int:
    facts = machine()
    libs = versions("puter-magic", "httpx", "ipython", "starlette", "uvicorn")
    sections = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`). Every figure is a median of several runs; every ratio is",
        "against a baseline measured in the same run on the same machine. Tests never assert timings.",
        "",
        f"Machine: Python {facts['python']}, {facts['platform']}, {facts['cpus']} CPUs, {facts['date']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in libs.items()) + ".",
        "",
        "## Import time",
        "",
        f"A fresh interpreter each time, {bench_import.RUNS} runs interleaved.",
        "",
        bench_import.report(bench_import.run()),
        "",
        "## Puter stream throughput",
        "",
        f"{bench_puter_stream.EVENTS:,} NDJSON text events from the local Puter server (its own process), "
        f"median of {bench_puter_stream.RUNS} alternating runs.",
        "The limit is raw httpx `aiter_lines()` + `json.loads` per line: the least work any client does.",
    ]
    for batch, label in ((1, "one line per HTTP chunk, as Puter sends it"), (64, "64 lines per HTTP chunk")):
        print(f"puter stream, {label} …", file=sys.stderr)
        sections += ["", f"### {label}", "", bench_puter_stream.report(bench_puter_stream.run(batch=batch))]
    sections += [
        "",
        "## OpenAI-compatible stream throughput",
        "",
        f"{bench_openai_stream.EVENTS:,} SSE events from the local OpenAI-compatible server (its own process), "
        f"median of {bench_openai_stream.RUNS} alternating runs.",
        "Targets: at least the official SDK, at least 0.8× the limit.",
    ]
    for batch, label in ((1, "one event per HTTP chunk, as llama-server sends it"), (64, "64 events per HTTP chunk")):
        print(f"openai stream, {label} …", file=sys.stderr)
        sections += ["", f"### {label}", "", bench_openai_stream.report(bench_openai_stream.run(batch=batch))]
    print("rendering …", file=sys.stderr)
    sections += [
        "",
        "## Rendering a streamed answer in a notebook",
        "",
        f"A {bench_render.CHUNKS:,}-chunk answer (one NDJSON line per HTTP chunk) in a real IPython kernel, "
        f"median of {bench_render.RUNS} alternating runs; the frontend side counts `update_display_data` messages.",
        "",
        bench_render.report(bench_render.run()),
    ]
    print("proxy …", file=sys.stderr)
    sections += [
        "",
        "## Proxy overhead",
        "",
        f"Small non-streamed requests (model `echo`): {bench_proxy.SEQUENTIAL} one after another for latency, "
        f"{bench_proxy.CONCURRENT} with 16 in flight for throughput; median of {bench_proxy.RUNS} alternating runs.",
        "The local Puter server, the proxy and the client are three processes sharing the machine's 2 cores.",
        "",
        bench_proxy.report(bench_proxy.run()),
    ]
    text = "\n".join(sections) + "\n"
    (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
