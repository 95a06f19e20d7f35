"""`followkit report RUN_DIR`: report.md and a self-contained report.html for a pipeline run.

It reads what the stages left behind: each evaluation folder (results.json + samples.jsonl), each
training folder (log.jsonl), the stage manifests and the pipeline record. Nothing is recomputed
from models; the report is a view of the run's files. This module writes the files and decides which
existing reports it may replace; the other modules of followkit.report are its pieces: views (the run
as read), tables (built once as plain data), markdown and html (formatting only), plots.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from followkit.core.io import write_json, write_text_atomic
from followkit.report.html import render_html
from followkit.report.markdown import DIFFERENCES_PNG, render_markdown
from followkit.report.plots import plot_differences
from followkit.report.views import (
    by_constraint_count,
    comparisons,
    instruction_accuracy,
    load_run,
    prompt_accuracy,
)

REPORT_MARKER = "<!-- written by `followkit report`: rerunning it replaces this file -->"
"""The first line of a report.md that `followkit report` wrote (and so may replace)."""

_OWN_HEADINGS = ("# followkit run report:", "# followkit eval:")  # reports written before the marker

_HTML_MARKER_RE = re.compile(r"""<meta\s+name=["']generator["']\s+content=["']followkit\b""", re.IGNORECASE)
_OWN_HTML_TITLE = "<title>followkit report: "  # pages written before the marker
_HTML_HEAD_CHARS = 4096  # the marker and title sit at the very start of the page


def written_by_followkit(path: str | Path) -> bool:
    """True if the report at path is one followkit wrote and may replace.

    report.html: the generator meta tag (or, from before it, the report's title) in the head;
    report.md: the marker or one of followkit's headings on the first line.
    """
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as fh:
            if Path(path).suffix.lower() in (".html", ".htm"):
                head = fh.read(_HTML_HEAD_CHARS)
                return _HTML_MARKER_RE.search(head) is not None or _OWN_HTML_TITLE in head
            first = fh.readline().strip()
    except OSError:
        return False
    return first == REPORT_MARKER or first.startswith(_OWN_HEADINGS)


def write_report(run_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html and report.json into the run folder; return their paths.

    A report.md or report.html that followkit did not write (written_by_followkit) is never
    replaced: InputError naming it, before anything is written.
    """
    view = load_run(run_dir)
    rd = Path(run_dir)
    md, page = rd / "report.md", rd / "report.html"
    for path in (md, page):  # both checked before either is written: a refusal changes nothing
        if path.is_dir() or (path.exists() and not written_by_followkit(path)):
            from followkit.core.errors import InputError

            raise InputError(
                "was not written by followkit and is never overwritten: move it away first", path=str(path)
            )
    markdown, page_html = render_markdown(view), render_html(view)
    write_text_atomic(md, REPORT_MARKER + "\n" + markdown)
    write_text_atomic(page, page_html)
    img = plot_differences(view)
    if img:
        (rd / DIFFERENCES_PNG).write_bytes(base64.b64decode(img))
    summary = {
        ev.name: {
            "prompt_level_strict": prompt_accuracy(ev).to_dict(),
            "instruction_level_strict": instruction_accuracy(ev).to_dict(),
            "by_constraint_count": {str(k): m.to_dict() for k, m in by_constraint_count(ev).items()},
        }
        for ev in view.evals
    }
    write_json(rd / "report.json", summary)
    write_json(
        rd / "comparison.json",
        [{"model": e.name, "base": b.name, **c.to_dict()} for b, e, c in comparisons(view)],
    )
    return {"markdown": md, "html": page, "json": rd / "report.json", "comparison": rd / "comparison.json"}
