"""What a cluster batch keeps on disk, so a run that dies can be resumed: one folder, and per partition

    part-00003-<key>.parquet      its rows, once the partition is done: columns answer, error, kind (one per row)
    part-00003-<key>.rows.jsonl   while it runs: one line per row answered (or failed), written as it finishes

`key` is a hash of what the partition asks — every prompt, the model, the options and the schema — so a re-run
over the same data with the same question finds its work, and a changed prompt, model, schema or row starts
afresh. A partition whose Parquet file exists is not asked again; one that was cut short (a worker lost, the
kernel restarted) asks only the rows its JSON-lines file does not hold. The folder must be one every worker
writes to: a local path for a LocalCluster, a shared filesystem for a remote one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.structured import Wanted
from ..errors import PuterError

FORMAT = 1  # changes when what a key covers, or the files' layout, changes


@dataclass(frozen=True)
class Outcome:
    """One row's result: its answer, or the one-line error and its kind."""

    answer: str | None = None
    error: str | None = None
    kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"answer": self.answer, "error": self.error, "kind": self.kind}


def partition_key(prompts: Sequence[str | PuterError], options: Mapping[str, Any], wanted: Wanted | None = None) -> str:
    """The hash of what a partition asks: its prompts (or the errors that stood for them), the options and the
    schema its answers must fit (its JSON form and name: a changed field asks again)."""
    shown = [p if isinstance(p, str) else ["error", type(p).__name__, p.message] for p in prompts]
    asked: dict[str, Any] = {"format": FORMAT, "options": dict(options), "prompts": shown}
    if wanted is not None:  # absent without one: the keys of earlier runs stay the same
        asked["schema"] = [wanted.name, wanted.sent_schema]
    text = json.dumps(asked, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class PartitionCheckpoint:
    """One partition's files in the checkpoint folder."""

    def __init__(self, folder: str | os.PathLike[str], number: int, key: str) -> None:
        self.folder = Path(folder)
        stem = f"part-{number:05d}-{key}"
        self.done_path = self.folder / f"{stem}.parquet"
        self.rows_path = self.folder / f"{stem}.rows.jsonl"
        self._lock = threading.Lock()
        self._file: Any = None

    def finished(self) -> list[Outcome] | None:
        """The partition's rows when it is done, else None."""
        if not self.done_path.is_file():
            return None
        import pyarrow.parquet as parquet

        table = parquet.read_table(self.done_path).to_pydict()
        return [Outcome(*row) for row in zip(table["answer"], table["error"], table["kind"], strict=True)]

    def partial(self) -> dict[int, Outcome]:
        """The rows a cut-short run finished, by position (a line torn by the cut is ignored)."""
        found: dict[int, Outcome] = {}
        with contextlib.suppress(FileNotFoundError), self.rows_path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    row = json.loads(line)
                    found[int(row["position"])] = Outcome(row["answer"], row["error"], row["kind"])
                except (ValueError, KeyError, TypeError):
                    continue
        return found

    def record(self, position: int, outcome: Outcome) -> None:
        """Append one finished row (any thread); flushed at once, so a killed process loses none it wrote."""
        line = json.dumps({"position": position, **outcome.to_json()}, ensure_ascii=False) + "\n"
        with self._lock:
            if self._file is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._file = self.rows_path.open("a", encoding="utf-8", errors="surrogatepass")
            self._file.write(line)
            self._file.flush()

    def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Write the partition's rows (atomically: a reader sees the whole file or none) and drop the row log."""
        import pyarrow as arrow
        import pyarrow.parquet as parquet

        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        columns = {name: [getattr(o, name) for o in outcomes] for name in ("answer", "error", "kind")}
        table = arrow.table({name: arrow.array(values, type=arrow.string()) for name, values in columns.items()})
        temporary = self.done_path.with_name(f".{self.done_path.name}.{os.getpid()}.tmp")
        parquet.write_table(table, temporary)
        os.replace(temporary, self.done_path)
        with contextlib.suppress(FileNotFoundError):
            self.rows_path.unlink()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
