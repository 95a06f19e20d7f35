"""`followkit verify FILE`: verdicts per instruction, strict and loose, as IFEval's reference scores them."""

from __future__ import annotations

from pathlib import Path

import typer

from followkit.constraints.verify import VerifyConfig
from followkit.options import config_command


def register(app: typer.Typer) -> None:
    """Add the `verify` command."""

    @config_command(app, "verify", VerifyConfig)
    def verify(cfg: VerifyConfig) -> None:
        """Verify responses against their constraints and print prompt/instruction-level accuracy."""
        from followkit.constraints.verify import default_workers, load_items, verify_items
        from followkit.io import file_sha256
        from followkit.progress import stage_progress
        from followkit.reasoning import parse_markers

        missing: list = []
        # validates every row before anything is verified or written
        items = load_items(
            cfg.file,
            cfg.prompts,
            missing=missing,
            semantics=cfg.semantics,
            reasoning=cfg.reasoning,
            markers=parse_markers(cfg.reasoning_markers),
        )
        n_workers = cfg.workers or default_workers()
        with stage_progress("verify", total=len(items)) as bar:
            results = verify_items(items, cfg.modes, workers=n_workers, on_progress=bar.advance)
        summary = _write_and_summarize(
            items,
            results,
            cfg.out,
            cfg.file,
            cfg.prompts,
            n_workers,
            file_sha256(cfg.file),
            missing,
            cfg.semantics,
            (cfg.reasoning, parse_markers(cfg.reasoning_markers)),
        )
        _print_table(summary, cfg.modes, cfg.out)
        if missing:
            typer.echo(
                f"{len(missing)} prompt(s) in {cfg.prompts} have no response in {cfg.file}: counted as missing"
            )


def _write_and_summarize(
    items, results, out, file, prompts, workers, data_hash, missing=(), semantics="reference", reasoning=None
) -> dict:
    from followkit import __version__
    from followkit.constraints.verify import summarize, verdict_rows
    from followkit.io import write_json, write_jsonl
    from followkit.reasoning import DEFAULT_MARKERS, kept_trace_warning, trace_summary

    setting, markers = reasoning or ("strip", DEFAULT_MARKERS)
    traces = trace_summary([it.reasoning_status for it in items], setting, markers)
    warning = kept_trace_warning(traces)
    if warning:
        typer.echo(warning, err=True)

    summary = {m: summarize(items, v) for m, v in results.items()}
    judged = sorted({cid for it in items for cid in it.judged})
    doc = {
        "input": str(file),
        "prompts": str(prompts) if prompts else None,
        "data_sha256": data_hash,
        "rows": len(items),
        "semantics": semantics,
        "reasoning": traces,
        "missing_responses": len(missing),
        "missing_keys": list(missing),
        "workers": workers,
        "followkit_version": __version__,
        "results": summary,
        "judged_not_verified": judged,
    }
    if out is not None:
        for m, v in results.items():
            write_jsonl(Path(out) / f"verdicts_{m}.jsonl", verdict_rows(items, v))
        write_json(Path(out) / "results.json", doc)
    return summary


def _print_table(summary: dict, modes: tuple[str, ...], out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="followkit verify")
    table.add_column("level")
    for m in modes:
        table.add_column(m, justify="right")
    table.add_column("n", justify="right")

    def row(label: str, pick) -> None:
        cells = [f"{pick(summary[m])['acc'] * 100:.2f}%" for m in modes]
        table.add_row(label, *cells, str(pick(summary[modes[0]])["n"]))

    row("prompt-level", lambda s: s["prompt_level"])
    row("instruction-level", lambda s: s["instruction_level"])
    table.add_section()
    for group in summary[modes[0]]["groups"]:
        row(group, lambda s, g=group: s["groups"][g])
    console = Console()
    console.print(table)
    if out is not None:
        console.print(f"wrote {', '.join(f'verdicts_{m}.jsonl' for m in modes)} and results.json to {out}")
