"""`followkit run`: the whole loop as a pipeline of stages, resumable stage by stage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from followkit.pipeline import PipelineRun


def register(app: typer.Typer) -> None:
    """Add the `run` command."""

    @app.command("run")
    def run(
        pipeline: str = typer.Argument(
            None, help="Pipeline YAML file, or a built-in name (default, gpu, openai)."
        ),
        overrides: list[str] = typer.Argument(
            None, help="key=value overrides of the pipeline's vars (e.g. eval_limit=10)."
        ),
        out: str = typer.Option(None, "--out", help="Run folder (default: runs/<pipeline name>)."),
        only: list[str] = typer.Option(None, "--only", help="Run only these stages (repeatable)."),
        force: bool = typer.Option(False, "--force", help="Redo every stage even when unchanged."),
        jobs: str = typer.Option(
            None, "--jobs", "-j", help="Stages run at once: N or 'auto' (default: the pipeline's `jobs`)."
        ),
        dry_run: bool = typer.Option(
            False,
            "--dry-run",
            help="Check the chain of record types, then print the resolved stages and whether each is fresh.",
        ),
    ) -> None:
        """Run a pipeline: baseline eval -> compose -> respond -> pairs -> train -> eval -> report."""
        from rich.console import Console
        from rich.table import Table

        from followkit.pipeline import (
            check_chain,
            dependencies,
            is_fresh,
            load_pipeline,
            resolve_jobs,
            run_pipeline,
        )

        console = Console()
        run_ = load_pipeline(pipeline, overrides or [], out)
        check_chain(run_)  # each stage reads the record type its producer writes, before any stage runs
        check_stage_args(run_)
        if dry_run:
            table = Table(title=f"pipeline {run_.spec.name} -> {run_.run_dir}")
            table.add_column("stage")
            table.add_column("fresh")
            table.add_column("after")
            table.add_column("command")
            deps = dependencies(run_.spec.stages)
            for s in run_.spec.stages:
                table.add_row(
                    s.name,
                    "yes" if is_fresh(run_, s) else "no",
                    ", ".join(sorted(deps[s.name])),
                    "followkit " + " ".join(s.args),
                )
            console.print(table)
            return
        outcomes = run_pipeline(
            run_,
            only=only or None,
            force=force,
            log=lambda m: console.print(m, highlight=False, markup=False),
            jobs=None if jobs is None else resolve_jobs(int(jobs) if jobs.isdigit() else jobs),
        )
        table = Table(title=f"pipeline {run_.spec.name}: {run_.run_dir}")
        for col in ("stage", "status", "seconds"):
            table.add_column(col)
        for o in outcomes:
            table.add_row(o.name, o.status, f"{o.seconds:.1f}")
        console.print(table)
        _print_comparisons(console, run_.run_dir)


def check_stage_args(run: PipelineRun) -> None:
    """Every enabled stage's command line parsed and its settings built, before any stage runs."""
    from followkit.commands import check_args
    from followkit.core.errors import InputError

    for stage in run.spec.stages:
        if not stage.enabled:
            continue
        try:
            check_args(stage.args)
        except InputError as exc:
            raise InputError(
                f"stage '{stage.name}' (followkit {' '.join(stage.args[:2])}): {exc}",
                path=run.source,
                field="stages",
            ) from None


def _print_comparisons(console, run_dir) -> None:
    """The run's paired comparisons with its baseline(s), as a table, when there are any."""
    from rich.table import Table

    from followkit.report.tables import COMPARISON_HEADERS, comparison_row
    from followkit.report.views import comparisons, load_run

    comps = comparisons(load_run(run_dir))
    if not comps:
        return
    table = Table(title="compared with the baseline (paired, strict, percentage points)")
    for col in COMPARISON_HEADERS:
        table.add_column(col)
    for b, e, c in comps:
        table.add_row(*comparison_row(b, e, c))
    console.print(table)
