"""The one progress bar every long stage uses: done / cached / failed counts and an ETA."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


@dataclass
class Counts:
    """Per-stage tallies shown on the bar and written to manifests."""

    done: int = 0
    cached: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"done": self.done, "cached": self.cached, "failed": self.failed}


class StageProgress:
    """A handle on a running bar: advance() it as items finish."""

    def __init__(self, progress: Progress | None, task_id: int | None, counts: Counts):
        self._p, self._t, self.counts = progress, task_id, counts

    def advance(self, n: int = 1, cached: int = 0, failed: int = 0) -> None:
        """Record n finished items, of which `cached` came from the cache and `failed` failed."""
        self.counts.done += n
        self.counts.cached += cached
        self.counts.failed += failed
        if self._p is not None:
            self._p.update(self._t, advance=n, cached=self.counts.cached, failed=self.counts.failed)


@contextmanager
def stage_progress(description: str, total: int, enabled: bool | None = None) -> Iterator[StageProgress]:
    """A rich progress bar (to stderr) for a stage of `total` items; silent when not a terminal."""
    counts = Counts()
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield StageProgress(None, None, counts)
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("cached {task.fields[cached]} failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as p:
        tid = p.add_task(description, total=total, cached=0, failed=0)
        yield StageProgress(p, tid, counts)
