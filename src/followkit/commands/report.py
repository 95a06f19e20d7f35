"""`followkit report RUN_DIR`: report.md + a self-contained report.html for a run folder."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `report` command."""

    @app.command("report")
    def report(run_dir: str = typer.Argument(..., help="A run folder written by `followkit run`.")) -> None:
        """Write RUN_DIR/report.md and RUN_DIR/report.html (plots inlined) and print the summary."""
        from pathlib import Path

        from rich.console import Console
        from rich.markdown import Markdown

        from followkit.errors import InputError
        from followkit.io import write_text_atomic
        from followkit.runreport import write_report

        rd = Path(run_dir)
        if not rd.is_dir():
            raise InputError("no such run folder" if not rd.exists() else "not a folder", path=run_dir)
        if next(rd.rglob("results.json"), None) is None:
            raise InputError("not a run folder (no results.json anywhere under it)", path=run_dir)
        md_path = rd / "report.md"
        if md_path.is_dir() or (md_path.exists() and not written_by_followkit(md_path)):
            raise InputError(
                "was not written by followkit and is never overwritten: move it away first", path=str(md_path)
            )
        paths = write_report(run_dir)
        md = paths["markdown"].read_text(encoding="utf-8")
        write_text_atomic(paths["markdown"], REPORT_MARKER + "\n" + md)
        console = Console()
        console.print(Markdown(md.split("## Pass rate per constraint id")[0]))
        console.print(f"wrote {paths['markdown']} and {paths['html']}")


REPORT_MARKER = "<!-- written by `followkit report`: rerunning it replaces this file -->"
"""The first line of a report.md that `followkit report` wrote (and so may replace)."""

_OWN_HEADINGS = ("# followkit run report:", "# followkit eval:")  # reports written before the marker


def written_by_followkit(path: object) -> bool:
    """True if the report.md at path is one followkit wrote (its marker or heading on the first line)."""
    from pathlib import Path

    try:
        with Path(str(path)).open(encoding="utf-8", errors="replace") as fh:
            first = fh.readline().strip()
    except OSError:
        return False
    return first == REPORT_MARKER or first.startswith(_OWN_HEADINGS)
