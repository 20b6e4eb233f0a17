"""Run every benchmark in one go and write benchmarks/RESULTS.md (`make bench`).

    python benchmarks/run.py                  # everything (make bench installs the peers' venv first)
    python benchmarks/run.py --only render    # re-run some sections (e.g. noisy ones), keep the others' results
    python benchmarks/run.py --list           # the section names
    python benchmarks/run.py --rewrite        # rewrite RESULTS.md from the stored figures (e.g. after editing NOTES.md)

Each section's figures are kept in .cache/bench-results.json, so `--only` rewrites RESULTS.md whole with the
re-run sections replaced. Without that file (a fresh clone), `--only` splices the re-run sections and their
headline rows into the committed RESULTS.md instead, leaving every other line as it was. Nothing here asserts a
timing: targets are reported, met or not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_backpressure  # noqa: E402
import bench_batch  # noqa: E402
import bench_dask  # noqa: E402
import bench_fitting  # noqa: E402
import bench_images  # noqa: E402
import bench_import  # noqa: E402
import bench_load  # noqa: E402
import bench_memory  # noqa: E402
import bench_objects  # noqa: E402
import bench_openai_stream  # noqa: E402
import bench_proxy  # noqa: E402
import bench_puter_stream  # noqa: E402
import bench_render  # noqa: E402
import bench_roundtrip  # noqa: E402
import bench_schemas  # noqa: E402
import bench_tool_loop  # noqa: E402
from common import (  # noqa: E402
    PEERS_VENV,
    ROOT,
    PeersMissing,
    load_average,
    machine,
    peers_python,
    quartiles,
    versions,
    versions_in,
)

STORE = ROOT / ".cache" / "bench-results.json"
PROJECT_PACKAGES = ("puter-magic", "ipython", "httpx", "httpcore", "anyio", "starlette", "uvicorn", "openai")
PEER_PACKAGES = ("putergenai", "puter-python-sdk", "jupyter-ai-magics", "ipython", "aiohttp", "requests", "langchain")


@dataclass
class Section:
    key: str
    title: str
    intro: str
    body: Callable[[], tuple[str, dict[str, float]]]  # markdown, headline figures


def section_load() -> tuple[str, dict[str, float]]:
    result = bench_load.run()
    return bench_load.report(result), bench_load.headline(result)


def section_import() -> tuple[str, dict[str, float]]:
    measurements = bench_import.run()
    count = len(bench_import.CASES)
    own = measurements[count + 1].median * 1000  # "import puter_magic importtime"
    return bench_import.report(measurements), {"importtime ms": own}


def section_puter_stream() -> tuple[str, dict[str, float]]:
    parts, figures = [], {}
    for batch, label in ((1, "one line per HTTP chunk, as Puter sends it"), (64, "64 lines per HTTP chunk")):
        print(f"  puter stream, {label} …", file=sys.stderr)
        result = bench_puter_stream.run(batch=batch)
        parts += [f"### {label}", "", bench_puter_stream.report(result), ""]
        figures.update({f"{key} (batch {batch})": value for key, value in bench_puter_stream.headline(result).items()})
    return "\n".join(parts).rstrip(), figures


def section_openai_stream() -> tuple[str, dict[str, float]]:
    parts, figures = [], {}
    for batch, label in ((1, "one event per HTTP chunk, as llama-server sends it"), (64, "64 events per HTTP chunk")):
        print(f"  openai stream, {label} …", file=sys.stderr)
        measurements = bench_openai_stream.run(batch=batch)
        parts += [f"### {label}", "", bench_openai_stream.report(measurements), ""]
        limit, magic, sdk = (m.median for m in measurements)
        figures[f"vs limit (batch {batch})"] = limit / magic
        figures[f"vs sdk (batch {batch})"] = sdk / magic
    return "\n".join(parts).rstrip(), figures


def section_roundtrip() -> tuple[str, dict[str, float]]:
    result = bench_roundtrip.run()
    return bench_roundtrip.report(result), bench_roundtrip.headline(result)


RENDER_RUNS = 9


def section_render() -> tuple[str, dict[str, float]]:
    result = bench_render.run(runs=RENDER_RUNS)
    pairs = [m / a for a, m in zip(result["alone"].samples, result["magic"].samples, strict=True)]
    low, high = quartiles(pairs)
    figures = {
        "ratio": result["magic"].median / result["alone"].median,
        "ratio low": low,
        "ratio high": high,
        "awaited ratio": result["awaited"].median / result["alone"].median,
        "updates/s": result["rate"].median,
        "stop ms": result["stop"].median * 1000,
    }
    markdown = bench_render.report(result)
    median = statistics.median(pairs)
    markdown += f"\n\nPer-run ratio %%puter / client alone: median {median:.2f}×, IQR {low:.2f}–{high:.2f}×."
    return markdown, figures


def section_proxy() -> tuple[str, dict[str, float]]:
    result = bench_proxy.run()
    figures = {
        "added ms": (result["proxy latency"].median - result["direct latency"].median) * 1000,
        "rps ratio": result["proxy rps"].median / result["direct rps"].median,
    }
    return bench_proxy.report(result), figures


def section_backpressure() -> tuple[str, dict[str, float]]:
    result = bench_backpressure.run()
    return bench_backpressure.report(result), bench_backpressure.headline(result)


def section_batch() -> tuple[str, dict[str, float]]:
    result = bench_batch.run()
    figures = {
        "vs ideal": result[1].median / bench_batch.IDEAL,
        "limit vs ideal": result[0].median / bench_batch.IDEAL,
        "vs sequential": result[-1].median / result[1].median,
    }
    return bench_batch.report(result), figures


def section_dask() -> tuple[str, dict[str, float]]:
    result = bench_dask.run()
    ideal = result["rows"] * bench_dask.LATENCY / (2 * bench_dask.CONCURRENCY)
    return bench_dask.report(result), {"cluster vs ideal": result["cluster_s"] / ideal, **result}


def section_memory() -> tuple[str, dict[str, float]]:
    result = bench_memory.run()
    return bench_memory.report(result), bench_memory.headline(result)


def section_fitting() -> tuple[str, dict[str, float]]:
    result = bench_fitting.run()
    return bench_fitting.report(result), bench_fitting.headline(result)


def section_objects() -> tuple[str, dict[str, float]]:
    result = bench_objects.run()
    return bench_objects.report(result), bench_objects.headline(result)


def section_schemas() -> tuple[str, dict[str, float]]:
    result = bench_schemas.run()
    return bench_schemas.report(result), bench_schemas.headline(result)


def section_tools() -> tuple[str, dict[str, float]]:
    result = bench_tool_loop.run()
    return bench_tool_loop.report(result), bench_tool_loop.headline(result)


def section_images() -> tuple[str, dict[str, float]]:
    result = bench_images.run()
    return bench_images.report(result), bench_images.headline(result)


SECTIONS = [
    Section(
        "load",
        "Extension load time: `%load_ext puter_magic` vs `%load_ext jupyter_ai_magics`",
        f"A fresh process per load (IPython's InteractiveShell, what a kernel builds on), {bench_load.RUNS} rounds "
        "interleaved in a shuffled order. jupyter-ai-magics comes from the peers' venv, with the same CPython and "
        "IPython as the project's.",
        section_load,
    ),
    Section(
        "import",
        "Import time",
        f"A fresh interpreter each time, {bench_import.RUNS} runs interleaved.",
        section_import,
    ),
    Section(
        "puter-stream",
        "Puter stream: throughput and time to first token",
        f"{bench_puter_stream.EVENTS:,} NDJSON text events from the local Puter server (its own process), "
        f"median of {bench_puter_stream.RUNS} "
        "interleaved rounds; each consumer runs in a fresh process and reads the stream four times on one "
        "client (cold: the first request of the process; warm: the next three, pooled over the rounds). "
        "Throughput and ratios use the warm streams; CPU columns are the client's and the server's process "
        "CPU time divided by the events. The limit is raw httpx `aiter_lines()` + `json.loads` per line: the "
        "least work any client does. **The server runs with `permissive: true`** (legacy driver names "
        "accepted, as putergenai sends `driver: openai-completion`) and `host_routing: false`, for every "
        "consumer alike. putergenai hard-codes `https://api.puter.com` as the instance attribute "
        "`PuterClient.api_base`; the benchmark sets that one attribute to `http://127.0.0.1:PORT` after "
        "construction (no other patching). Targets: puter_magic ≥ 0.8× the limit and ahead of putergenai.",
        section_puter_stream,
    ),
    Section(
        "openai-stream",
        "OpenAI-compatible stream throughput",
        f"{bench_openai_stream.EVENTS:,} SSE events from the local OpenAI-compatible server (its own process), "
        f"median of {bench_openai_stream.RUNS} alternating runs. Targets: at least the official SDK, at least 0.8× "
        "the limit.",
        section_openai_stream,
    ),
    Section(
        "roundtrip",
        "Non-streamed round trips",
        f"{bench_roundtrip.REQUESTS:,} sequential small requests (model `echo`, prompt `ping`) per run, each client "
        f"in a fresh process, median of {bench_roundtrip.RUNS} interleaved rounds. **The server runs with "
        "`permissive: true`** (puter-python-sdk sends `driver: openai-completion`) and `host_routing: false`. "
        "puter-python-sdk is pointed at the local server through its own environment variable `PUTER_API_BASE`, "
        "its async throttle (10 requests / 60 s) lifted with `PUTER_RATE_LIMIT_REQUESTS`; its chat history is "
        "cleared after each call so that every request carries one message, as the others do. puter_magic runs "
        "with its client-side rate limit off (`PUTER_RATE_LIMIT=off`; the default 30 requests / 10 s is "
        "politeness towards puter.com) and its other defaults (3 requests in flight at most, retries on).",
        section_roundtrip,
    ),
    Section(
        "render",
        "Rendering a streamed answer in a notebook",
        f"A {bench_render.CHUNKS:,}-chunk answer (one NDJSON line per HTTP chunk) in a real IPython kernel, median "
        f"of {RENDER_RUNS} alternating runs; the frontend side counts `update_display_data` messages.",
        section_render,
    ),
    Section(
        "proxy",
        "Proxy overhead",
        f"Small non-streamed requests (model `echo`): {bench_proxy.SEQUENTIAL} one after another for latency, "
        f"{bench_proxy.CONCURRENT} with 16 in flight for throughput; median of {bench_proxy.RUNS} alternating runs. "
        "The local Puter server, the proxy and the client are three processes sharing the machine's cores.",
        section_proxy,
    ),
    Section(
        "backpressure",
        "Proxy backpressure: a reader that stops reading",
        (bench_backpressure.__doc__ or "").split("\n\n", 1)[1].strip(),
        section_backpressure,
    ),
    Section(
        "batch",
        "Many prompts at once",
        f"{bench_batch.ITEMS} short prompts (model `echo`) to the local Puter server (its own process), each answered "
        f"after {bench_batch.LATENCY * 1000:.0f} ms, concurrency {bench_batch.CONCURRENCY}, provider limiter off; "
        f"median of {bench_batch.RUNS} alternating runs. The raw-httpx row is the same work with no library: what "
        "this 2-core machine allows.",
        section_batch,
    ),
    Section(
        "dask",
        "Batches on a Dask cluster",
        (bench_dask.__doc__ or "").split("\n\n", 1)[1].split("\n\n", 1)[0].strip(),
        section_dask,
    ),
    Section(
        "memory",
        "Memory and history trimming",
        (bench_memory.__doc__ or "").split("\n\n", 1)[1].strip(),
        section_memory,
    ),
    Section(
        "fitting",
        "A long thread fitted to a small window",
        (bench_fitting.__doc__ or "").split("\n\n", 1)[1].strip(),
        section_fitting,
    ),
    Section(
        "objects",
        "Notebook objects in a prompt",
        (bench_objects.__doc__ or "").split("\n\n", 1)[1].strip(),
        section_objects,
    ),
    Section(
        "schemas",
        "Tool and answer schemas: a 50-field model",
        (bench_schemas.__doc__ or "").split("\n\n", 1)[1].strip(),
        section_schemas,
    ),
    Section(
        "tools",
        "The tool loop: what it adds per step",
        (bench_tool_loop.__doc__ or "").split("\n\n", 1)[1].strip(),
        section_tools,
    ),
    Section(
        "images",
        "Images into a conversation: a figure into a message, a 20-image thread saved",
        (bench_images.__doc__ or "").split("\n\n", 1)[1].strip(),
        section_images,
    ),
]
BY_KEY = {s.key: s for s in SECTIONS}


def headline_rows(figures: dict[str, dict[str, float]]) -> list[str]:
    """One line per target: the figure, the target, met or not."""

    def get(key: str, name: str) -> float | None:
        return figures.get(key, {}).get(name)

    def num(key: str, name: str) -> float:
        """A figure to print: NaN when an older stored run lacks it."""
        value = get(key, name)
        return float("nan") if value is None else value

    def verdict(ok: bool, noisy: bool = False) -> str:
        if ok:
            return "met"
        return "not met on the medians, within this run's noise (IQRs overlap)" if noisy else "**not met**"

    def batch_verdict(vs_ideal: float, limit: float) -> str:
        if vs_ideal <= 1.2:
            return "met"
        if limit > 1.2:
            return f"not met: raw httpx itself needs {limit:.2f}× the ideal on this machine (its CPU ceiling)"
        return "**not met**"

    rows = ["| what | puter_magic | target | |", "|---|---|---|---|"]
    ratio = get("load", "load ratio")
    if ratio is not None:
        wall = get("load", "wall ratio") or 0.0
        rows.append(
            f"| `%load_ext` vs jupyter-ai-magics | {ratio:.1f}× faster (load itself; {num('load', 'load ms'):.0f} ms), "
            f"process {wall:.1f}× faster | ≥ 5× | {verdict(ratio >= 5)} |"
        )
    for batch in (1, 64):
        vs_limit = get("puter-stream", f"vs limit (batch {batch})")
        if vs_limit is None:
            continue
        vs_peer = get("puter-stream", f"vs putergenai (batch {batch})")
        cpu_limit = get("puter-stream", f"cpu vs limit (batch {batch})") or 0.0
        peer_text = ", putergenai not measured"
        if vs_peer is not None:
            cpu_peer = get("puter-stream", f"cpu vs putergenai (batch {batch})") or 0.0
            peer_text = f", {vs_peer:.2f}× putergenai's speed (client CPU: {cpu_peer:.2f}× putergenai's efficiency)"
        ok = vs_limit >= 0.8 and (vs_peer is None or vs_peer >= 1.0)
        noisy = (vs_limit < 0.8 and bool(get("puter-stream", f"vs limit noise (batch {batch})"))) or (
            vs_peer is not None and vs_peer < 1.0 and bool(get("puter-stream", f"vs putergenai noise (batch {batch})"))
        )
        rows.append(
            f"| Puter stream, {batch} line(s) per chunk | {vs_limit:.2f}× the limit (client CPU: {cpu_limit:.2f}×)"
            f"{peer_text}; first token {num('puter-stream', f'ttft cold ms (batch {batch})'):.0f} ms cold, "
            f"{num('puter-stream', f'ttft warm ms (batch {batch})'):.0f} ms warm "
            f"| ≥ 0.8× the limit, ahead of putergenai | {verdict(ok, noisy)} |"
        )
    for batch in (1, 64):
        vs_limit = get("openai-stream", f"vs limit (batch {batch})")
        if vs_limit is None:
            continue
        vs_sdk = get("openai-stream", f"vs sdk (batch {batch})") or 0.0
        rows.append(
            f"| OpenAI stream, {batch} event(s) per chunk | {vs_limit:.2f}× the limit, {vs_sdk:.2f}× the SDK's speed "
            f"| ≥ 0.8× the limit, ≥ the SDK | {verdict(vs_limit >= 0.8 and vs_sdk >= 1.0)} |"
        )
    rps = get("roundtrip", "rps")
    if rps is not None:
        sdk = get("roundtrip", "vs sdk")
        sdk_text = f", {sdk:.2f}× puter-python-sdk's rate" if sdk is not None else ""
        rows.append(
            f"| Round trips (1,000 sequential) | {rps:,.0f} requests/s, {num('roundtrip', 'vs limit'):.2f}× raw "
            f"httpx{sdk_text}; client CPU {num('roundtrip', 'cpu us'):.0f} µs per request "
            f"({num('roundtrip', 'cpu vs limit'):.2f}× raw httpx's efficiency) | reported (no target) | |"
        )
    ratio = get("render", "ratio")
    if ratio is not None:
        rate = get("render", "updates/s") or 0.0
        low, high = get("render", "ratio low") or ratio, get("render", "ratio high") or ratio
        awaited = get("render", "awaited ratio") or ratio
        rows.append(
            f"| Rendering in a kernel | {ratio:.2f}× the client alone (per-run IQR {low:.2f}–{high:.2f}×), awaited "
            f"(Stop-able: {get('render', 'stop ms') or 0:.0f} ms from the click to an idle kernel) {awaited:.2f}×, "
            f"{rate:.1f} display updates/s | ≤ 1.3×, ≤ 20 updates/s "
            f"| {verdict(max(ratio, awaited) <= 1.3 and rate <= 20, low <= 1.3)} |"
        )
    added = get("proxy", "added ms")
    if added is not None:
        rows.append(
            f"| Proxy | {added:+.2f} ms per request, {num('proxy', 'rps ratio'):.2f}× the direct rate "
            "| reported (no target) | |"
        )
    growth = get("backpressure", "growth MiB")
    if growth is not None:
        ratio = num("backpressure", "rate vs before")
        rows.append(
            f"| Proxy, 1 stalled reader on a {bench_backpressure.CHUNKS:,}-chunk answer | RSS {growth:+.1f} MiB "
            f"(unbounded: {num('backpressure', 'before growth MiB'):+.1f} MiB); fast reader "
            f"{num('backpressure', 'chunks/s'):,.0f} chunks/s, {ratio:.2f}× the unbounded rate "
            f"| ≤ +5 MiB, fast reader unchanged "
            f"| {verdict(growth <= 5 and ratio >= 0.95, growth <= 5 and bool(get('backpressure', 'rate noise')))} |"
        )
    vs_ideal = get("batch", "vs ideal")
    if vs_ideal is not None:
        limit = get("batch", "limit vs ideal") or vs_ideal
        rows.append(
            f"| Batch, 500 prompts × 50 ms at 16 | {vs_ideal:.2f}× the ideal (raw httpx: {limit:.2f}×), "
            f"{num('batch', 'vs sequential'):.1f}× faster than one at a time | ≤ 1.2× the ideal "
            f"| {batch_verdict(vs_ideal, limit)} |"
        )
    cluster = get("dask", "cluster vs ideal")
    if cluster is not None:
        rows_asked = num("dask", "rows")
        kernel = num("dask", "kernel_s") / (rows_asked * bench_dask.LATENCY / bench_dask.CONCURRENCY)
        growth = num("dask", "kernel_growth_mib")
        rows.append(
            f"| Batch on a Dask LocalCluster, {rows_asked:,.0f} prompts × {bench_dask.LATENCY * 1000:.0f} ms, "
            f"{bench_dask.PARTITIONS} Parquet partitions | {cluster:.2f}× the ideal for "
            f"{2 * bench_dask.CONCURRENCY} in flight ({rows_asked / num('dask', 'cluster_s'):,.0f} prompts/s; one "
            f"kernel at {bench_dask.CONCURRENCY}: {kernel:.2f}×); kernel memory {growth:+.1f} MiB while the workers "
            f"read and write {num('dask', 'dataset_mib_in_memory'):.0f} MiB of rows | ≤ 1.3× the ideal, kernel memory "
            f"flat | {verdict(cluster <= 1.3 and growth < 16)} |"
        )
    peak = get("memory", "peak MiB")
    if peak is not None:
        growth = get("memory", "growth whole") or 0.0
        rows.append(
            f"| Memory, 2,000 turns | peak RSS {peak:.1f} MiB (+{num('memory', 'growth MiB'):.1f} MiB for the turns); "
            f"trimming {num('memory', 'trimmed at 2000'):.0f} µs per request at 2,000 turns, "
            f"{num('memory', 'slope whole'):.2f} µs per turn when every turn is sent | linear at worst "
            f"| {verdict(growth < 16 * 1.5)} |"
        )
    fit_us = get("fitting", "fit us")
    if fit_us is not None:
        rows.append(
            f"| A {bench_fitting.TURNS}-turn thread fitted to a {bench_fitting.WINDOW:,}-token window "
            f"| {fit_us:,.0f} µs per request ({num('fitting', 'kept turns'):.0f} newest turns kept; the whole "
            f"`Session.ask()` {num('fitting', 'ask us'):,.0f} µs) | no target | — |"
        )
    frame_ms = get("objects", "pandas ms")
    if frame_ms is not None:
        rows.append(
            f"| `@{{df}}`, 10⁶ rows | {frame_ms:.1f} ms, {num('objects', 'rendered chars'):,.0f} characters; "
            f"token estimate {num('objects', 'estimate MB/s'):.1f} MB/s | < 50 ms | {verdict(frame_ms < 50)} |"
        )
    encoded = get("images", "encode ms")
    if encoded is not None:
        rows.append(
            f"| a 1920×1080 figure into a message (`@{{fig}}`) | {encoded:.0f} ms | ≤ 150 ms "
            f"| {verdict(encoded <= 150)} |"
        )
        exported, size = num("images", "export ms"), num("images", "json bytes")
        rows.append(
            f"| a 20-image thread exported | {exported:.1f} ms, file {size / 1000:.0f} KB (images stored once "
            "beside it) "
            f"| ≤ 100 ms, < 1 MB | {verdict(exported <= 100 and size < 1_000_000)} |"
        )
    built = get("schemas", "type_schema ms")
    if built is not None:
        function_ms = num("schemas", "function_schema ms")
        rows.append(
            f"| Schema builder, 50-field model | {built:.2f} ms for the dataclass, {function_ms:.2f} ms for the "
            f"50-parameter function (best rounds {num('schemas', 'type_schema best ms'):.2f} and "
            f"{num('schemas', 'function_schema best ms'):.2f} ms; pydantic's own `model_json_schema()`: "
            f"{num('schemas', 'pydantic ms'):.2f} ms); checking and converting an answer "
            f"{num('schemas', 'check convert ms'):.2f} ms | ≤ 1 ms | {verdict(max(built, function_ms) <= 1)} |"
        )
    overhead = get("tools", "overhead ms")
    if overhead is not None:
        rows.append(
            f"| Tool loop overhead per step (in-memory provider, 8 steps) | {overhead:.3f} ms (a step "
            f"{num('tools', 'step ms'):.3f} ms in all) | ≤ 2 ms | {verdict(overhead <= 2)} |"
        )
    return rows


def render(store: dict) -> str:
    facts = store["machine"]
    project, peers = store["versions"]["project"], store["versions"]["peers"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`). Every figure is a median of several runs; every ratio is",
        "against a baseline measured in the same run on the same machine, with the cases interleaved so that drift",
        "hits them alike. Tests never assert timings.",
        "",
        f"- Machine: {facts['cpu']}, {facts['cpus']} CPUs, {facts['memory']}; {facts['platform']}; "
        f"Python {facts['python']}.",
        f"- Date: {facts['date']}; the full run took {store['duration']:.0f} s"
        + (f" (sections re-run later: {', '.join(store['rerun'])})" if store.get("rerun") else "")
        + ".",
        "- Versions (project venv): " + ", ".join(f"{k} {v}" for k, v in project.items()) + ".",
        "- Versions (peers' venv, `.cache/bench-peers`, from `benchmarks/peers/requirements.txt`): "
        + (", ".join(f"{k} {v}" for k, v in peers.items()) if isinstance(peers, dict) else str(peers))
        + ".",
        "- The machine is shared: other work may run at the same time (the load average when each section started "
        "and ended is given under it). A noisy section can be re-run alone: `python benchmarks/run.py --only NAME`.",
        "",
        "## Headline figures against the targets",
        "",
        *headline_rows({key: value["figures"] for key, value in store["sections"].items()}),
    ]
    for section in SECTIONS:
        done = store["sections"].get(section.key)
        if done is None:
            continue
        lines += ["", *section_block(section, done)]
    notes = HERE / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


def run_section(section: Section) -> dict:
    print(f"{section.key} …", file=sys.stderr)
    before = load_average()
    started = time.perf_counter()
    markdown, figures = section.body()
    return {
        "markdown": markdown,
        "figures": figures,
        "seconds": time.perf_counter() - started,
        "load before": before,
        "load after": load_average(),
    }


def section_block(section: Section, done: dict) -> list[str]:
    return [
        f"## {section.title}",
        "",
        section.intro,
        "",
        done["markdown"],
        "",
        f"<sub>Section `{section.key}`: {done['seconds']:.0f} s; load average {done['load before']} → "
        f"{done['load after']}.</sub>",
    ]


def splice_only(keys: list[str]) -> int:
    """No stored figures: run `keys` and replace (or add) their blocks and headline rows in RESULTS.md."""
    results = HERE / "RESULTS.md"
    lines = results.read_text(encoding="utf-8").splitlines()
    for section in SECTIONS:
        if section.key not in keys:
            continue
        done = run_section(section)
        block = section_block(section, done)
        start = next((i for i, line in enumerate(lines) if line == f"## {section.title}"), None)
        if start is None:  # a new section: after the one before it in SECTIONS, else before the notes
            earlier = [s.key for s in SECTIONS[: SECTIONS.index(section)]]
            subs = [i for i, line in enumerate(lines) if any(line.startswith(f"<sub>Section `{k}`") for k in earlier)]
            notes = next((i for i, line in enumerate(lines) if line.startswith("## Notes")), len(lines))
            start = end = subs[-1] + 1 if subs else notes
            block = ["", *block] if subs else [*block, ""]
        else:
            end = next(i for i in range(start, len(lines)) if lines[i].startswith(f"<sub>Section `{section.key}`")) + 1
        lines[start:end] = block
        for row in headline_rows({section.key: done["figures"]})[2:]:
            first_cell = row.split(" | ")[0]
            at = next((i for i, line in enumerate(lines) if line.split(" | ")[0] == first_cell), None)
            if at is None:
                table_end = next(i for i, line in enumerate(lines) if line.startswith("| what |"))
                while table_end < len(lines) and lines[table_end].startswith("|"):
                    table_end += 1
                lines.insert(table_end, row)
            else:
                lines[at] = row
    for i, line in enumerate(lines):
        if line.startswith("- Date:") and "sections re-run later: " in line:
            head, _, tail = line.partition("sections re-run later: ")
            names, _, rest = tail.partition(")")
            rerun = sorted(set(names.split(", ")) | set(keys))
            lines[i] = f"{head}sections re-run later: {', '.join(rerun)}){rest}"
    results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"RESULTS.md: spliced {', '.join(keys)} (no stored figures at {STORE})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(BY_KEY), help="re-run these sections only")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--rewrite", action="store_true", help="rewrite RESULTS.md from the stored figures only")
    options = parser.parse_args(argv)
    if options.list:
        for section in SECTIONS:
            print(f"{section.key:14} {section.title}")
        return 0
    if options.rewrite:
        if not STORE.exists():
            parser.error(f"--rewrite needs a previous full run ({STORE} is missing)")
        (HERE / "RESULTS.md").write_text(render(json.loads(STORE.read_text(encoding="utf-8"))), encoding="utf-8")
        return 0
    store: dict = {}
    if options.only and not STORE.exists():
        return splice_only(options.only)
    if options.only:
        store = json.loads(STORE.read_text(encoding="utf-8"))
        store["rerun"] = sorted(set(store.get("rerun", [])) | set(options.only))
    else:
        store = {"sections": {}}
    try:
        peer_versions: object = versions_in(peers_python(), *PEER_PACKAGES)
    except PeersMissing as missing:
        peer_versions = f"not installed ({missing})"
    store["versions"] = {"project": versions(*PROJECT_PACKAGES), "peers": peer_versions}
    started = time.perf_counter()
    for section in SECTIONS:
        if options.only and section.key not in options.only:
            continue
        store["sections"][section.key] = run_section(section)
    if not options.only:
        store["machine"] = machine()
        store["duration"] = time.perf_counter() - started
    STORE.parent.mkdir(parents=True, exist_ok=True)
    STORE.write_text(json.dumps(store, indent=2), encoding="utf-8")
    text = render(store)
    (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"peers' venv: {PEERS_VENV}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
