"""`followkit car`: rank teachers for a student by CAR (compatibility-adjusted reward)."""

from __future__ import annotations

from typing import Any

import typer

from followkit.options import config_command
from followkit.select.car import CarConfig


def _fmt(x: Any, nd: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "nan" if x != x else f"{x:.{nd}f}"
    return str(x)


def print_table(report: Any, console: Any = None) -> None:
    """The ranked teacher table (rich) and, if present, the validation correlations."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(
        title=f"CAR teacher ranking (beta={report.beta:g}, reward={report.reward['spec']})",
        caption="higher is better except loss (mean token NLL under the student); len: mean response tokens; "
        "ranks: by reward, loss, IFD, len (ties share the mean rank)",
    )
    for col, just in (
        ("rank", "right"),
        ("teacher", "left"),
        ("CAR", "right"),
        ("reward", "right"),
        ("loss", "right"),
        ("IFD", "right"),
        ("len", "right"),
        ("n", "right"),
        ("ranks", "left"),
    ):
        table.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    for t in sorted(report.teachers, key=lambda t: t.ranks["car"]):
        others = " ".join(_fmt(t.ranks[m], 1).removesuffix(".0") for m in ("reward", "loss", "ifd", "length"))
        table.add_row(
            str(t.ranks["car"]),
            t.name,
            _fmt(t.car, 4),
            _fmt(t.reward),
            _fmt(t.loss),
            _fmt(t.ifd),
            _fmt(t.length, 1),
            f"{t.n_scored}/{t.n}" if t.n_scored != t.n else str(t.n),
            others,
        )
    console.print(table)
    console.print(f"reward positivity: {report.reward['positivity']}")
    if report.validation:
        v = Table(title="Spearman rho with downstream scores (higher = ranks teachers as observed)")
        v.add_column("metric")
        v.add_column("rho", justify="right")
        for m, rho in report.validation["spearman"].items():
            v.add_row(m, _fmt(rho))
        for b, rho in report.validation["car_beta_sweep"].items():
            v.add_row(f"car (beta={b})", _fmt(rho))
        console.print(v)
        if "note" in report.validation:
            console.print(report.validation["note"])


def register(app: typer.Typer) -> None:
    """Add the `car` command."""

    @config_command(app, "car", CarConfig)
    def car(cfg: CarConfig) -> None:
        """Rank teachers by CAR with reward-only, loss-only, IFD and length baselines; write DIR/car.json."""
        from pathlib import Path

        from followkit.backends import load_backend
        from followkit.io import write_json, write_jsonl
        from followkit.manifest import write_manifest
        from followkit.progress import stage_progress
        from followkit.select.car import (
            check_same_prompts,
            load_downstream,
            load_teacher,
            parse_teacher_arg,
            score_teachers,
        )
        from followkit.select.car import validate as validate_report
        from followkit.select.rewards import load_reward

        teachers = [load_teacher(*parse_teacher_arg(arg)) for arg in cfg.teacher]
        downstream = (
            load_downstream(cfg.validation) if cfg.validation else None
        )  # fail on a bad file before any model call

        check_same_prompts(teachers)
        judge_opts = {"base_url": cfg.judge_base_url} if cfg.judge_base_url else {}
        reward_fn = load_reward(cfg.reward, cache=cfg.cache, refresh_cache=cfg.refresh_cache, **judge_opts)
        student_backend = load_backend(
            cfg.student, base_url=cfg.base_url, cache=cfg.cache, refresh_cache=cfg.refresh_cache
        )
        total = sum(len(t.records) for t in teachers)
        with stage_progress("car: student log-probs", total) as bar:
            report = score_teachers(teachers, student_backend, reward_fn, cfg.beta, progress=bar.advance)
        report.reward["spec"] = cfg.reward
        if downstream is not None:
            validate_report(report, downstream)
        out_dir = Path(cfg.out)
        write_jsonl(out_dir / "responses.jsonl", report.per_response)
        write_json(out_dir / "car.json", report.to_dict())
        stats = getattr(student_backend, "cache_stats", None)
        write_manifest(
            out_dir,
            "car",
            cfg.model_dump(),
            student=student_backend.describe(),
            cache=stats,
        )
        print_table(report)
        typer.echo(f"best teacher: {report.ranking[0]}; wrote {out_dir / 'car.json'}")
