"""batch() on a Dask cluster: one kernel against a LocalCluster of 2 worker processes, over a 40-partition Parquet
dataset, and the kernel's memory while the cluster answers a dataset larger than the kernel ever holds.

The local Puter server runs in its own process and waits LATENCY seconds before each answer (model `echo`, not
streamed); the provider's limiter is off, so `concurrency` is the only bound. One kernel: the whole file read
with pandas, batch(concurrency=C). The cluster: dd.read_parquet → batch(concurrency=C) per partition → to_parquet,
2 processes × 1 thread, so 2 partitions run at once: its ideal is N × LATENCY / (2 × C). Memory: the kernel's
peak RSS above its baseline while the cluster run reads and writes a dataset with a PAD-byte column per row.

    python benchmarks/bench_dask.py [ROWS]        # default ROWS (the issue's 20,000 on a quiet machine)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import local_puter_process

from puter_magic.config import Settings
from puter_magic.core.sessions import Session
from puter_magic.notebook.batch_call import batch

ROWS = int(os.environ.get("BENCH_DASK_ROWS", "20000"))
PARTITIONS = 40
CONCURRENCY = 16
LATENCY = 0.05
CLUSTER_RUNS = 3  # the median is reported
PAD = 4000  # bytes of an unused column per row, so the dataset dwarfs what the kernel holds


def settings_for(facts: dict[str, str]) -> Settings:
    return Settings(
        api_origin=f"http://api.puter.localhost:{facts['port']}",
        gui_origin=f"http://puter.localhost:{facts['port']}",
        token=facts["Admin token"],
        rate_limit=None,
        max_concurrent=None,
    )


def write_dataset(folder: Path, rows: int) -> Path:
    import pandas as pd

    frame = pd.DataFrame({"title": [f"title number {i}" for i in range(rows)], "pad": ["x" * PAD] * rows})
    path = folder / "titles"
    path.mkdir()
    size = -(-rows // PARTITIONS)
    for n in range(PARTITIONS):
        frame.iloc[n * size : (n + 1) * size].to_parquet(path / f"part-{n:03d}.parquet")
    return path


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one_kernel(settings: Settings, dataset: Path) -> float:
    import pandas as pd

    session = Session(settings)
    session.set_model("echo")
    try:
        start = time.perf_counter()
        frame = pd.read_parquet(dataset)
        answers = batch("@{title}", frame[["title"]], concurrency=CONCURRENCY, session=session, progress=False)
        elapsed = time.perf_counter() - start
        assert list(answers) == list(frame.title)
        return elapsed
    finally:
        session.close()


def on_cluster(settings: Settings, dataset: Path, out: Path, rows: int) -> tuple[float, float]:
    """Seconds, and the kernel's peak RSS growth (MiB) while the cluster ran."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster),
    ):
        baseline = peak = rss_mib()
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.wait(0.05):
                peak = max(peak, rss_mib())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        start = time.perf_counter()
        ddf = dd.read_parquet(dataset, columns=["title", "pad"])
        answers = batch("@{title}", ddf, model="echo", concurrency=CONCURRENCY, settings=settings, progress=False)
        ddf.assign(answer=answers.answer).to_parquet(out)
        elapsed = time.perf_counter() - start
        done.set()
        watcher.join()
        written = dd.read_parquet(out, columns=["title", "answer"]).compute()
        assert len(written) == rows and (written.answer == written.title).all()
        return elapsed, peak - baseline


def run(rows: int = ROWS) -> dict[str, float]:
    with local_puter_process(latency=LATENCY) as facts, tempfile.TemporaryDirectory() as folder:
        settings = settings_for(facts)
        dataset = write_dataset(Path(folder), rows)
        size = sum(p.stat().st_size for p in dataset.iterdir()) / 2**20
        runs = [on_cluster(settings, dataset, Path(folder) / f"out-{n}", rows) for n in range(CLUSTER_RUNS)]
        kernel_s = one_kernel(settings, dataset)
    times = sorted(seconds for seconds, _ in runs)
    return {
        "rows": rows,
        "kernel_s": kernel_s,
        "cluster_s": statistics.median(times),
        "cluster_fastest_s": times[0],
        "cluster_slowest_s": times[-1],
        "kernel_growth_mib": max(growth for _, growth in runs),
        "dataset_mib_in_memory": rows * (PAD + 20) / 2**20,
        "dataset_mib_on_disk": size,
    }


def report(result: dict[str, float]) -> str:
    rows = int(result["rows"])
    ideal_kernel = rows * LATENCY / CONCURRENCY
    ideal_cluster = rows * LATENCY / (2 * CONCURRENCY)
    return "\n".join(
        [
            f"{rows:,} prompts × {LATENCY * 1000:.0f} ms over {PARTITIONS} Parquet partitions, concurrency "
            f"{CONCURRENCY} per partition running (target: the cluster ≤ 1.3× the ideal for its concurrency).",
            "",
            "| run | wall time | prompts/s | ideal | vs the ideal |",
            "|---|---|---|---|---|",
            f"| one kernel, batch() over the whole frame | {result['kernel_s']:.2f} s "
            f"| {rows / result['kernel_s']:,.0f} | {ideal_kernel:.2f} s (16 in flight) "
            f"| {result['kernel_s'] / ideal_kernel:.2f}× |",
            f"| LocalCluster, 2 processes × 1 thread, read_parquet → batch → to_parquet (median of {CLUSTER_RUNS}; "
            f"{result['cluster_fastest_s']:.2f}–{result['cluster_slowest_s']:.2f} s) | {result['cluster_s']:.2f} s"
            f" | {rows / result['cluster_s']:,.0f} | {ideal_cluster:.2f} s (32 in flight) "
            f"| {result['cluster_s'] / ideal_cluster:.2f}× |",
            "",
            f"Kernel memory during the cluster run: +{result['kernel_growth_mib']:.1f} MiB peak RSS, while the dataset "
            f"is {result['dataset_mib_in_memory']:.0f} MiB of rows in memory ({result['dataset_mib_on_disk']:.1f} MiB "
            "of Parquet on disk): the rows and answers stay on the workers.",
        ]
    )


if __name__ == "__main__":
    print(report(run(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)))
