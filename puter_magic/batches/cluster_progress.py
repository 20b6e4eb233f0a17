"""One progress bar for a whole cluster run: each partition's batch reports to the kernel, which adds them up.

A partition runs the in-process batch (run.py), whose Reporter here is a PartitionReporter: it sends the
partition's counts (rows done, failed, retries, cost) as a Dask event — `Worker.log_event()` on a topic of this
run, which the kernel's Client subscribed to — or, without a distributed cluster (Dask's threads in this
process), straight to the kernel's tally. The kernel's ClusterProgress keeps the latest counts of each partition
(a partition asked again after a worker was lost starts its counts afresh: nothing is counted twice) and shows
their sum through the progress view the caller chose (notebook/progress_bars.py). Counts only: no prompt, answer
or secret travels this way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .progress import Reporter, Snapshot, State

_local_topics: dict[str, Callable[[dict[str, Any]], None]] = {}  # Dask without distributed: same process


@dataclass(frozen=True)
class Offset:
    """Rows a partition had already finished (from its checkpoint) before its batch started."""

    done: int = 0
    failed: int = 0


class PartitionReporter:
    """The Reporter of one partition's batch: its snapshots become events for the kernel."""

    def __init__(self, topic: str, number: int, total: int, offset: Offset, worker: Any = None) -> None:
        self.topic, self.number, self.total, self.offset, self.worker = topic, number, total, offset, worker

    def _send(self, snapshot: Snapshot, state: State) -> None:
        message = {
            "part": self.number,
            "total": self.total,
            "done": self.offset.done + snapshot.done,
            "failed": self.offset.failed + snapshot.failed,
            "retries": snapshot.retries,
            "cost": snapshot.cost_usd or 0.0,
            "state": state,
        }
        if self.worker is not None:
            self.worker.log_event(self.topic, message)  # thread-safe: handed to the worker's loop
        elif (deliver := _local_topics.get(self.topic)) is not None:
            deliver(message)

    def start(self, snapshot: Snapshot) -> None:
        self._send(snapshot, "running")

    def update(self, snapshot: Snapshot) -> None:
        self._send(snapshot, "running")

    def finish(self, snapshot: Snapshot, *, keep: bool = True) -> None:
        self._send(snapshot, "finished" if snapshot.state == "finished" else "interrupted")

    def skipped(self, done: int, failed: int) -> None:
        """The partition was done already (its checkpoint): counted at once."""
        self._send(Snapshot(self.total, done, failed, state="finished"), "finished")


class ClusterProgress:
    """The kernel's side: every partition's latest counts, shown as one bar while a run of them lasts.

    A run starts with the first event after the last run ended (a collection computed twice shows two runs)."""

    def __init__(self, partitions: int, make_reporter: Callable[[], Reporter]) -> None:
        self.partitions = partitions
        self.make_reporter = make_reporter
        self.parts: dict[int, dict[str, Any]] = {}
        self.reporter: Reporter | None = None
        self.started = 0.0
        self._lock = threading.Lock()

    def receive(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self.reporter is None:
                self.parts, self.started = {}, time.monotonic()
                self.reporter = self.make_reporter()
                self.reporter.start(self.snapshot())
            self.parts[int(message["part"])] = message
            snapshot = self.snapshot()
            reporter = self.reporter
            if snapshot.state == "running":
                reporter.update(snapshot)
                return
            self.reporter = None
        reporter.finish(snapshot)

    def snapshot(self) -> Snapshot:
        """Rows of the partitions not heard from yet are estimated from those that were."""
        parts = list(self.parts.values())
        known = sum(int(p["total"]) for p in parts)
        unheard = self.partitions - len(parts)
        total = known + (round(known / len(parts) * unheard) if parts and unheard > 0 else 0)
        states = {p["state"] for p in parts}
        ended = len(parts) == self.partitions and "running" not in states
        state: State = ("interrupted" if "interrupted" in states else "finished") if ended else "running"
        cost = sum(float(p["cost"]) for p in parts)
        return Snapshot(
            total,
            sum(int(p["done"]) for p in parts),
            sum(int(p["failed"]) for p in parts),
            sum(int(p["retries"]) for p in parts),
            cost or None,
            time.monotonic() - self.started,
            state,
        )

    def on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A Client.subscribe_topic() handler: (the scheduler's timestamp, the message)."""
        self.receive(event[1])


def listen_locally(topic: str, progress: ClusterProgress) -> None:
    _local_topics[topic] = progress.receive
