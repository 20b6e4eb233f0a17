"""batch() over Dask collections on a real distributed.LocalCluster (2 worker processes, one thread each) against
the local Puter server of this test process and llama-server: answers in order, a failing row as a value, a
worker killed mid-run, resuming from a checkpoint, the provider's rate limit held cluster-wide, no token in the
task graph, one progress bar for the run, typed columns from a schema."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import dask
import dask.bag as db
import dask.dataframe as dd
import pandas as pd
import pytest
from cells import run
from distributed import Client, LocalCluster
from IPython.core.error import UsageError

from puter_magic.batches.progress import Snapshot
from puter_magic.config import Settings
from puter_magic.core.sessions import Session
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


def chat_prompts(puter_server: Any, rows: Any = None) -> list[str]:
    """The prompt of each chat request the server saw, in arrival order; with `rows`, only those prompts (a result
    an earlier test still holds on the cluster is computed again when a worker dies, and reaches this server too)."""
    found = []
    for request in puter_server.state.requests:
        body = request.body if isinstance(request.body, dict) else {}
        messages = body.get("args", {}).get("messages") if isinstance(body.get("args"), dict) else None
        if messages:
            found.append(messages[-1]["content"])
    return found if rows is None else [prompt for prompt in found if prompt in set(rows)]


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


def test_a_template_sees_the_namespace_under_the_rows_and_only_what_it_names_goes_to_the_graph(
    client: Client, puter_server: Any, puter_settings: Settings
) -> None:
    ddf = dd.from_pandas(titles(4), npartitions=2)
    namespace = {"language": "French", "title": "shadowed by the column", "unrelated": "kept in the kernel"}

    answers = batch("@{title} in @{language}", ddf, model="echo", settings=puter_settings, namespace=namespace)

    pickled = cloudpickle.dumps(dict(answers.__dask_graph__()))
    assert b"French" in pickled and b"kept in the kernel" not in pickled and b"shadowed" not in pickled
    assert list(answers.answer.compute()) == [f"{title} in French" for title in titles(4).title]


def checkpointed(path: Path) -> set[str]:
    """The rows a checkpoint folder holds as finished (row logs and finished partitions), by answer."""
    import pyarrow.parquet as parquet

    found: set[str] = set()
    for log in path.glob("*.rows.jsonl"):
        found |= {json.loads(line)["answer"] for line in log.read_text().splitlines() if line.endswith("}")}
    for done in path.glob("*.parquet"):
        found |= set(parquet.read_table(done).column("answer").to_pylist())
    return found


def test_a_worker_killed_mid_run_loses_nothing_and_asks_again_only_what_was_in_flight(
    client: Client, puter_server: Any, puter_settings: Settings, tmp_path: Path
) -> None:
    puter_server.state.settings.latency = 0.05
    frame = titles(40)
    answers = batch(
        "@{title}",
        dd.from_pandas(frame, npartitions=4),
        model="echo",
        settings=puter_settings,
        concurrency=2,
        checkpoint=tmp_path,
        progress=False,
    )
    running = client.compute(answers)
    wait_until(lambda: len(chat_prompts(puter_server, frame.title)) >= 12, 30, "a dozen rows asked")
    busy = [address for address, keys in client.processing().items() if keys]
    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)

    result = running.result(timeout=90)

    assert list(result.answer) == list(frame.title) and result.error.isna().all()
    asked = Counter(chat_prompts(puter_server, frame.title))
    assert set(asked) == set(frame.title)
    again = sum(count - 1 for count in asked.values())
    assert again <= 2, f"{again} rows asked twice: more than the killed worker's 2 in flight"


def test_a_run_cut_short_resumes_from_its_checkpoint(
    client: Client, puter_server: Any, puter_settings: Settings, tmp_path: Path
) -> None:
    puter_server.state.settings.latency = 0.05
    frame = titles(40)
    ddf = dd.from_pandas(frame, npartitions=4)

    def asked() -> Any:
        return batch(
            "@{title}", ddf, model="echo", settings=puter_settings, concurrency=2, checkpoint=tmp_path, progress=False
        )

    running = client.compute(asked())
    wait_until(lambda: len(chat_prompts(puter_server, frame.title)) >= 12, 30, "a dozen rows asked")
    pids = client.run(os.getpid)
    running.cancel()  # the kernel gives up on it, and every worker process dies: a cluster lost mid-run
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: len(set(client.scheduler_info()["workers"]) - set(pids)) == 2, 60, "2 new workers")
    kept = checkpointed(tmp_path)
    first = len(chat_prompts(puter_server, frame.title))
    assert 8 <= len(kept) < 30

    result = asked().compute()

    assert list(result.answer) == list(frame.title) and result.error.isna().all()
    second = chat_prompts(puter_server, frame.title)[first:]
    assert not set(second) & kept, "rows the checkpoint held were asked again"
    assert sorted(second) == sorted(set(frame.title) - kept)
    assert len(list(tmp_path.glob("*.parquet"))) == 4 and not list(tmp_path.glob("*.jsonl"))
    again = asked().compute()  # everything is done: nothing is asked
    assert list(again.answer) == list(frame.title) and len(chat_prompts(puter_server, frame.title)) == first + len(
        second
    )


def test_the_providers_rate_limit_and_concurrency_hold_for_the_whole_cluster(
    client: Client, puter_server: Any, puter_settings: Settings
) -> None:
    """6 requests per 2 s and 2 in flight for both workers together (each alone would allow that much)."""
    limited = dataclasses.replace(puter_settings, rate_limit=(6, 2.0), max_concurrent=2)
    frame = titles(18)
    answers = batch(
        "@{title}", dd.from_pandas(frame, npartitions=3), model="echo", settings=limited, concurrency=4, progress=False
    )

    result = answers.compute()

    assert list(result.answer) == list(frame.title)
    starts = sorted(r.time for r in puter_server.state.requests if r.path == "/drivers/call")
    assert len(starts) == 18
    # A slot's start and its request's arrival at the server differ by the hand-offs and the send (more on a
    # loaded machine): the window is checked 0.2 s short.
    busiest = max(sum(1 for t in starts if first <= t < first + 1.8) for first in starts)
    assert busiest <= 6, f"{busiest} requests within 1.8 s"
    assert puter_server.state.max_in_flight <= 2


def test_a_bag_of_prompts_on_llama_server(client: Client, llama_server: Any) -> None:
    prompts = db.from_sequence(["Say hi.", "Count to three.", "Name a colour."], npartitions=2)

    answers = batch(prompts, provider=llama_server.base_url, model=llama_server.model, max_tokens=8, progress=False)

    values = answers.compute()
    assert len(values) == 3 and all(isinstance(v, str) for v in values), values


@pytest.fixture
def session(puter_settings: Settings) -> Iterator[Session]:
    """The session of the `magics` fixture: on the local Puter server, model echo."""
    session = Session(puter_settings)
    session.set_model("echo")
    yield session
    session.close()


def test_map_cell_over_a_dask_dataframe(
    client: Client, shell: Any, magics: Any, puter_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = titles(6)
    shell.user_ns["ddf"] = dd.from_pandas(frame, npartitions=2)

    try:
        run(shell, "%%puter --map ddf -o labels --quiet\nLabel: @{title}")

        labels = shell.user_ns["labels"]
        assert isinstance(labels, dd.DataFrame)  # persisted: the run started when the cell ran
        assert list(labels.answer.compute()) == [f"Label: {title}" for title in frame.title]
        shell.user_ns["language"] = "French"  # the notebook's values, under the row's fields, as in one kernel
        run(shell, "%%puter --map ddf -o labels --quiet\n@{title} in @{language}")
        assert list(shell.user_ns["labels"].answer.compute()) == [f"{title} in French" for title in frame.title]
        with pytest.raises(UsageError, match="needs -o VAR"):
            run(shell, "%%puter --map ddf\nLabel: @{title}")
    finally:  # the shell outlives the test: let go of the persisted result
        for name in ("labels", "ddf", "language"):
            shell.user_ns.pop(name, None)


def test_a_schema_gives_typed_columns_and_a_row_that_never_fits_its_error(
    client: Client, puter_server: Any, puter_settings: Settings, tmp_path: Path
) -> None:
    """The echo model answers each row with the JSON its prompt holds; a row whose age is not a number never fits
    (asked again, the echo is prose). The dataclass is local to the test: cloudpickle takes it by value, as it would
    a notebook's."""

    @dataclasses.dataclass
    class Person:
        name: str
        age: int
        height: float
        member: bool

    frame = pd.DataFrame(
        {"name": ["Ada", "Grace", "Alan", "Nobody"], "age": ["36", "85", "41", "old"]}, index=["a", "b", "c", "d"]
    )
    template = '```json\n{"name": "@{name}", "age": @{age}, "height": 1.5, "member": true}\n```'
    ddf = dd.from_pandas(frame, npartitions=2)

    def asked() -> Any:
        return batch(
            template, ddf, model="echo", settings=puter_settings, schema=Person, checkpoint=tmp_path, progress=False
        )

    people = asked()
    assert isinstance(people, dd.DataFrame)
    assert dict(people.dtypes.astype(str)) == {
        "name": "string",
        "age": "Int64",
        "height": "Float64",
        "member": "boolean",
        "error": "string",
    }
    result = people.compute()

    assert list(result.index) == ["a", "b", "c", "d"]
    assert dict(result.dtypes.astype(str)) == dict(people.dtypes.astype(str))
    assert list(result.name[:3]) == ["Ada", "Grace", "Alan"] and list(result.age[:3]) == [36, 85, 41]
    assert result.member[:3].all() and result.error[:3].isna().all()
    assert result.loc[["d"], ["name", "age", "height", "member"]].isna().all(axis=None)
    assert result.error["d"].startswith("the answer does not fit Person, even when asked again"), result.error["d"]
    asked_first = len(chat_prompts(puter_server))
    assert asked_first == 5, "each row once, the misfit asked again once"
    # the scheduler unpickled Person in this process: its fields must still have no defaults
    assert all(field.default is dataclasses.MISSING for field in dataclasses.fields(Person))

    assert asked().compute().equals(result)  # the checkpoint holds it all: nothing is asked again
    assert len(chat_prompts(puter_server)) == asked_first

    @dataclasses.dataclass
    class Member:  # another schema over the same prompts: the checkpoint does not answer it
        name: str
        age: int
        height: float
        member: bool
        nickname: str | None = None

    members = batch(
        template, ddf, model="echo", settings=puter_settings, schema=Member, checkpoint=tmp_path, progress=False
    ).compute()
    assert list(members.name[:3]) == ["Ada", "Grace", "Alan"] and members.nickname.isna().all()
    assert len(chat_prompts(puter_server)) == 2 * asked_first

    bag = db.from_sequence([template.replace("@{name}", "Ada").replace("@{age}", "36")], npartitions=1)
    typed = batch(bag, model="echo", settings=puter_settings, schema=Person, progress=False).compute()
    assert typed == [Person("Ada", 36, 1.5, True)]  # a Bag gives the typed values themselves
