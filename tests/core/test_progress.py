"""followkit.core.progress: the counts a stage reports, with the bar on and off."""

from __future__ import annotations

import io

from rich.console import Console

from followkit.core import progress
from followkit.core.progress import Counts, stage_progress


def test_counts_add_up_without_a_bar():
    with stage_progress("respond", total=5, enabled=False) as bar:
        bar.advance()
        bar.advance(2, cached=1)
        bar.advance(2, failed=2)
    assert bar.counts.to_dict() == {"done": 5, "cached": 1, "failed": 2}


def test_the_bar_is_off_when_stderr_is_not_a_terminal(capsys):
    with stage_progress("respond", total=1) as bar:  # stderr is captured here, so not a terminal
        bar.advance()
    assert capsys.readouterr().err == ""
    assert bar.counts == Counts(done=1)


def test_the_bar_shows_cached_and_failed_counts(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=out, force_terminal=True, width=120))
    with stage_progress("pairs", total=3, enabled=True) as bar:
        bar.advance(3, cached=2, failed=1)
    text = out.getvalue()
    assert "pairs" in text
    assert "3/3" in text
    assert "cached 2 failed 1" in text
