"""batch() over Dask collections on a real distributed.LocalCluster (2 worker processes, one thread each) against
the local Puter server of this test process and llama-server: answers in order, a failing row as a value, a
worker killed mid-run, resuming from a checkpoint, the provider's rate limit held cluster-wide, no token in the
task graph, one progress bar for the run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import cloudpickle
import dask
import dask.dataframe as dd
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from puter_magic.batches.progress import Snapshot
from puter_magic.config import Settings
from puter_magic.notebook.batch_call import batch
from puter_magic.testing.faults import Fault


DASK_CONFIG = {
    # A lost worker's semaphore leases lapse quickly (the default is 30 s); the rest keeps the run quiet.
    "distributed.scheduler.locks.lease-timeout": "3s",
    "distributed.scheduler.locks.lease-validation-interval": "500ms",
    "distributed.worker.daemon": False,
}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        dask.config.set(DASK_CONFIG),
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


class Recorded:
    """A progress view that keeps what it was shown."""

    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []
        self.finished: list[Snapshot] = []

    def start(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)

    def update(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)

    def finish(self, snapshot: Snapshot, *, keep: bool = True) -> None:
        self.finished.append(snapshot)


def titles(n: int) -> pd.DataFrame:
    return pd.DataFrame({"title": [f"title number {i}" for i in range(n)]}, index=[f"row{i:03d}" for i in range(n)])


def chat_prompts(puter_server: Any) -> list[str]:
    """The prompt of each chat request the server saw, in arrival order."""
    found = []
    for request in puter_server.state.requests:
        body = request.body if isinstance(request.body, dict) else {}
        messages = body.get("args", {}).get("messages") if isinstance(body.get("args"), dict) else None
        if messages:
            found.append(messages[-1]["content"])
    return found


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_answers_come_back_in_order_and_a_failed_row_is_a_value(
    client: Client, puter_server: Any, puter_settings: Settings
) -> None:
    puter_server.state.inject(Fault.http(500, path="/drivers/call"))
    frame = titles(12)
    ddf = dd.from_pandas(frame, npartitions=3)
    progress = Recorded()

    answers = batch("@{title}", ddf, model="echo", settings=puter_settings, concurrency=2, progress=progress)
    assert isinstance(answers, dd.DataFrame) and answers.npartitions == 3  # lazy: nothing asked yet
    assert chat_prompts(puter_server) == []
    labelled = ddf.assign(label=answers.answer, label_error=answers.error).compute()

    assert list(labelled.index) == list(frame.index)
    failed = labelled[labelled.label.isna()]
    assert len(failed) == 1
    assert failed.label_error.iloc[0].startswith("Internal Server Error"), failed.label_error.iloc[0]
    answered = labelled[labelled.label.notna()]
    assert list(answered.label) == list(answered.title)  # each row got its own answer, in its place
    assert answered.label_error.isna().all()
    assert sorted(chat_prompts(puter_server)) == sorted(frame.title)  # each row asked once
    wait_until(lambda: progress.finished, 10, "the progress bar to finish")
    final = progress.finished[-1]
    assert (final.total, final.done, final.failed, final.state) == (12, 12, 1, "finished")


def test_no_token_in_the_task_graph_or_the_workers_logs(
    client: Client, puter_server: Any, puter_settings: Settings
) -> None:
    token = puter_settings.token
    assert token
    ddf = dd.from_pandas(titles(4), npartitions=2)
    answers = batch("@{title}", ddf, model="echo", settings=puter_settings, progress=False)

    graph = dict(answers.__dask_graph__())
    assert token.encode() not in cloudpickle.dumps(graph)  # what the client sends the scheduler
    assert token not in repr(graph)  # what the dashboard shows of the tasks
    assert list(answers.answer.compute()) == list(titles(4).title)
    logs = client.get_worker_logs()
    assert all(token not in line for lines in logs.values() for _, line in lines)
