"""report.md: the report's tables as Markdown, led by the picture of the paired differences."""

from __future__ import annotations

from followkit.report.tables import Code, Table, report_tables, stages_table
from followkit.report.views import RunView

DIFFERENCES_PNG = "paired_differences.png"
"""The report's lead picture, written beside report.md."""

_PICTURES = {"comparisons": f"![paired differences]({DIFFERENCES_PNG})"}  # by Table.key


def _row(cells: list[str]) -> str:
    cells = [f"`{c}`" if isinstance(c, Code) else c for c in cells]
    # the first cell apart: a one-column table keeps the empty second cell its reports have always had
    return f"| {cells[0]} | " + " | ".join(cells[1:]) + " |"


def _table(t: Table) -> list[str]:
    return [_row(t.header), "|---|" + "---|" * (len(t.header) - 1), *(_row(r) for r in t.rows)]


def _section(t: Table) -> list[str]:
    """Heading, picture, notes, table and bullets, an empty line between each."""
    blocks = [[_PICTURES[t.key]]] if t.key in _PICTURES else []
    blocks += [[n] for n in t.notes] + [_table(t)]
    if t.bullets:
        blocks.append([f"- {b}" for b in t.bullets])
    lines = ["", f"## {t.title}"]
    for block in blocks:
        lines += ["", *block]
    return lines


def _provenance(view: RunView) -> list[str]:
    """One line per stage manifest and per evaluation."""
    lines = []
    for where, man in view.manifests.items():
        vers = man.get("versions", {})
        lines.append(
            f"- `{where}`: stage `{man.get('stage', '?')}`, config `{str(man.get('config_sha256', ''))[:12]}`, "
            + ", ".join(f"{k} {v}" for k, v in vers.items())
        )
    for ev in view.evals:
        r = ev.results
        lines.append(
            f"- eval `{ev.name}`: model `{r.get('model')}`, chat template `{str(r.get('chat_template_sha256'))[:12]}`, data `{str(r.get('data_sha256'))[:12]}`, cache {r.get('cache')}"
        )
    return lines


def render_markdown(view: RunView) -> str:
    """The report as Markdown."""
    lines = [f"# followkit run report: `{view.run_dir}`"]
    if not view.evals:
        lines.append("")  # the second empty line reports without evaluations have always had
    stages = stages_table(view)
    for t in [*report_tables(view), *([stages] if stages else [])]:
        lines += _section(t)
    lines += ["", "## Provenance", "", *_provenance(view)]
    return "\n".join(lines) + "\n"
