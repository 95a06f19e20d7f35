"""`followkit sprig`: optimize a system prompt from prompt components (SPRIG)."""

from __future__ import annotations

import typer

from followkit.optimize.sprig import SprigConfig
from followkit.options import config_command


def register(app: typer.Typer) -> None:
    """Add the `sprig` command."""

    @config_command(app, "sprig", SprigConfig)
    def sprig(cfg: SprigConfig) -> None:
        """Search for the best system prompt; write best.txt, leaderboard.jsonl/csv, score_by_round.png, sprig.json."""
        from pathlib import Path

        from followkit.backends import load_backend
        from followkit.errors import InputError
        from followkit.evaluate.registry import get_benchmark, parse_benchmark_spec
        from followkit.manifest import write_manifest
        from followkit.optimize.corpus import load_components
        from followkit.optimize.sprig import Rephraser, run_sprig, write_outputs
        from followkit.progress import console

        comps = load_components(cfg.components, lang=cfg.lang)
        name, path = parse_benchmark_spec(cfg.benchmark)
        bench = get_benchmark(name)
        items = bench.load(path)
        cache_opts = {"cache": cfg.cache, "refresh_cache": cfg.refresh_cache}

        def url_for(spec: str) -> str | None:
            return cfg.base_url if spec.startswith("openai:") else None

        backend = load_backend(cfg.model, base_url=url_for(cfg.model), **cache_opts)
        rephrase_backend = backend
        if cfg.rephrase_model and cfg.rephrase_model != cfg.model:
            rephrase_backend = load_backend(
                cfg.rephrase_model, base_url=url_for(cfg.rephrase_model), **cache_opts
            )
        judge_backend = load_backend(cfg.judge, **cache_opts) if cfg.judge else None
        if bench.needs_judge and judge_backend is None:
            raise InputError(f"benchmark {name} is judged: give --judge MODEL")

        status = console.status("sprig: scoring the empty prompt")

        def show(msg: str) -> None:
            if console.is_terminal:
                status.update(f"sprig: {msg}")
            else:  # logs and CI: one line per scored candidate
                console.print(f"sprig: {msg}", highlight=False)

        with status:
            result = run_sprig(
                backend,
                bench,
                items,
                comps,
                cfg,
                rephraser=Rephraser(rephrase_backend),
                judge=judge_backend,
                progress=show,
            )
        paths = write_outputs(result, cfg.out)
        write_manifest(
            Path(cfg.out),
            "sprig",
            cfg.model_dump(),
            model=backend.describe(),
            cache=getattr(backend, "cache_stats", None),
        )
        b, base = result.best, result.baseline
        typer.echo(f"best system prompt ({len(b.components)} components, {result.metric}):")
        typer.echo(f"  {b.text or '(empty: no system prompt beats the model default)'}")
        typer.echo(
            f"train {b.train:.3f}  val {b.val:.3f}  held-out {b.heldout:.3f}   "
            f"(empty prompt: train {base.train:.3f}  val {base.val:.3f}  held-out {base.heldout:.3f})"
        )
        typer.echo(
            f"{len(result.candidates)} candidates, {result.search_calls} search calls"
            f"{' (budget spent)' if result.budget_exhausted else ''}, {result.eval_calls} validation/held-out calls"
        )
        hint = (
            f"evaluate with: followkit eval -b {cfg.benchmark} -m {cfg.model} --system-prompt @{paths['best']}"
            if b.components
            else "the empty prompt won: evaluate without --system-prompt"
        )
        typer.echo(f"wrote {paths['best']}; {hint}")
