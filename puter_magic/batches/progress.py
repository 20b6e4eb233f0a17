"""Where a batch stands: a Snapshot (counts, rate, ETA, retries, cost, one line of text) and the Reporter
protocol that shows it. Pure: no UI here.

The views — an ipywidgets bar, one updating terminal line — are in notebook/progress_bars.py, and the caller
picks one (`notebook.batch_call.batch()`, the %%puter --map cell); run() only calls start/update/finish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ..core.formats import money

State = Literal["running", "finished", "interrupted"]


@dataclass(frozen=True)
class Snapshot:
    """Where a batch stands."""

    total: int
    done: int = 0  # answered or failed
    failed: int = 0
    retries: int = 0
    cost_usd: float | None = None
    elapsed: float = 0.0
    state: State = "running"

    @property
    def rate(self) -> float | None:
        """Items per second so far."""
        return self.done / self.elapsed if self.done and self.elapsed > 0 else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far."""
        rate = self.rate
        return (self.total - self.done) / rate if rate else None

    def describe(self, *, timing: bool = True) -> str:
        """One line: `12/20 · 8.1/s · ETA 1 s · 1 failed · 2 retries · $0.0004`."""
        if self.state == "interrupted":
            parts = [f"interrupted after {self.done} of {self.total}"]
        elif self.state == "finished":
            parts = [f"{self.done}/{self.total} done"]
        else:
            parts = [f"{self.done}/{self.total}"]
        if timing and self.state == "running":
            rate, eta = self.rate, self.eta
            if rate is not None and eta is not None:
                parts += [f"{rate:.1f}/s", f"ETA {_seconds(eta)}"]
        elif timing:
            parts.append(f"in {_seconds(self.elapsed)}")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.retries:
            parts.append(f"{self.retries} {'retry' if self.retries == 1 else 'retries'}")
        if self.cost_usd:
            parts.append(money(self.cost_usd))
        return " · ".join(parts)


def _seconds(value: float) -> str:
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    return f"{value / 60:.0f} min"


class Reporter(Protocol):
    def start(self, snapshot: Snapshot) -> None: ...

    def update(self, snapshot: Snapshot) -> None: ...

    def finish(self, snapshot: Snapshot, *, keep: bool = True) -> None: ...


class NoProgress:
    """progress=False."""

    def start(self, snapshot: Snapshot) -> None:
        pass

    def update(self, snapshot: Snapshot) -> None:
        pass

    def finish(self, snapshot: Snapshot, *, keep: bool = True) -> None:
        pass
