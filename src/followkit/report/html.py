"""report.html: one self-contained page with the report's tables, their pictures (inlined PNG) and the
samples, searchable."""

from __future__ import annotations

import json
from html import escape

from followkit.report import plots
from followkit.report.tables import Code, Table, provenance_table, report_tables
from followkit.report.views import RunView

HTML_MARKER = "<meta name='generator' content='followkit report'>"
"""In the head of every report.html followkit writes: the mark that lets a rerun replace the page."""

_PICTURES = {
    "comparisons": ("paired differences", "plot_differences"),
    "by_count": ("accuracy by number of constraints", "plot_by_count"),
    "training": ("training curves", "plot_training"),
}
"""Table.key -> the picture above that table: its alt text and the followkit.report.plots function."""

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2433}
header{background:#1d2433;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b8c0d0;font-size:13px}
main{max-width:1100px;margin:0 auto;padding:16px 28px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:14px 18px;margin:14px 0}
h2{font-size:16px;margin:4px 0 10px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid #e6e8ee;text-align:left}th{background:#f0f2f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%}details{border:1px solid #e6e8ee;border-radius:6px;margin:6px 0;padding:4px 10px}
summary{cursor:pointer;font-size:13px}pre{white-space:pre-wrap;background:#f6f7f9;padding:8px;border-radius:4px;font-size:12px}
.pass{color:#17803d}.fail{color:#c62828;font-weight:600}.tag{display:inline-block;border-radius:4px;padding:0 6px;font-size:11px;margin-right:4px}
.tag.pass{background:#e3f5e8}.tag.fail{background:#fde7e7}#controls{display:flex;gap:12px;align-items:center;margin-bottom:8px;font-size:13px}
"""

_JS = """
(function(){
  var q=document.getElementById('q'),f=document.getElementById('failedOnly'),e=document.getElementById('evalSel');
  function apply(){
    var text=(q.value||'').toLowerCase(),shown=0;
    document.querySelectorAll('details.sample').forEach(function(d){
      var ok=(!f.checked||d.dataset.failed==='1')&&(e.value===''||d.dataset.eval===e.value)&&
             (text===''||d.textContent.toLowerCase().indexOf(text)>=0);
      d.style.display=ok?'':'none'; if(ok){shown++;}
    });
    document.getElementById('shown').textContent=shown;
  }
  [q,f,e].forEach(function(el){el.addEventListener('input',apply);el.addEventListener('change',apply);});
  apply();
  document.body.dataset.ready='1';
})();
"""


def _cell(c: str, numeric: bool) -> str:
    text = f"<code>{escape(c)}</code>" if isinstance(c, Code) else escape(c)
    return f"<td class='num'>{text}</td>" if numeric else f"<td>{text}</td>"


def _table(t: Table) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in t.page_header or t.header)
    body = "".join(
        "<tr>" + "".join(_cell(c, i >= t.num_from) for i, c in enumerate(r)) + "</tr>" for r in t.rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _section(t: Table, view: RunView, end: str = "") -> str:
    """Heading, picture, notes, table and bullets of one table; `end` goes last, inside the section."""
    picture = ""
    if t.key in _PICTURES:
        alt, draw = _PICTURES[t.key]
        img = getattr(plots, draw)(view)
        picture = f"<img alt='{alt}' src='data:image/png;base64,{img}'>" if img else ""
    notes = "".join(f"<p>{escape(n)}</p>" for n in t.notes)
    bullets = "<ul>" + "".join(f"<li>{escape(b)}</li>" for b in t.bullets) + "</ul>" if t.bullets else ""
    return f"<section><h2>{escape(t.title)}</h2>{picture}{notes}{_table(t)}{bullets}{end}</section>"


def _samples(view: RunView, max_samples: int) -> str:
    """The samples section: each sample folded, with filters by evaluation, failure and text."""
    esc = escape
    opts = "".join(f"<option value='{esc(ev.name)}'>{esc(ev.name)}</option>" for ev in view.evals)
    samples = []
    total = 0
    for ev in view.evals:
        for s in ev.samples[:max_samples]:
            total += 1
            tags = "".join(
                f"<span class='tag {'pass' if c.passed else 'fail'}' title='{esc(c.text)}'>{'✓' if c.passed else '✗'} {esc(c.id)}</span>"
                for c in s.constraints
            )
            cons = "".join(
                f"<li class='{'pass' if c.passed else 'fail'}'>{'✓' if c.passed else '✗'} <code>{esc(c.id)}</code> {esc(c.text)}</li>"
                for c in s.constraints
            )
            samples.append(
                f"<details class='sample' data-eval='{esc(ev.name)}' data-failed='{0 if s.followed else 1}'>"
                f"<summary><b>{esc(ev.name)}</b> · {esc(s.id)} · {tags}</summary>"
                f"<ul>{cons}</ul><b>Prompt</b><pre>{esc(s.prompt)}</pre><b>Response</b><pre>{esc(s.response)}</pre></details>"
            )
    return (
        "<section><h2>Samples</h2><div id='controls'><select id='evalSel'><option value=''>all evaluations</option>"
        + opts
        + "</select><label><input type='checkbox' id='failedOnly'> failed only</label>"
        + f"<input id='q' placeholder='search text' size='28'><span><span id='shown'>{total}</span> shown</span></div>"
        + "".join(samples)
        + "</section>"
    )


def render_html(view: RunView, max_samples: int = 400) -> str:
    """The report as one self-contained HTML page (plots inlined as PNG data)."""
    esc = escape
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{HTML_MARKER}",
        f"<title>followkit report: {esc(str(view.run_dir))}</title><style>{_CSS}</style></head>",
        "<body><script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message));document.body.dataset.errors=window.__errors.join('|');});</script>",
        f"<header><h1>followkit run report</h1><p>{esc(str(view.run_dir))} · pipeline {esc(str(view.pipeline.get('name', '')))}</p></header><main>",
    ]
    parts += [_section(t, view) for t in report_tables(view)]
    if view.evals:
        parts.append(_samples(view, max_samples))
    config = ""
    if view.pipeline:
        config = f"<details><summary>pipeline config</summary><pre>{esc(json.dumps(view.pipeline, indent=2, ensure_ascii=False))}</pre></details>"
    parts.append(_section(provenance_table(view), view, end=config))
    parts.append(f"</main><script>{_JS}</script></body></html>")
    return "".join(parts)
