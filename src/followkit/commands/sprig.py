"""`followkit sprig`: optimize a system prompt from prompt components (SPRIG)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `sprig` command."""

    @app.command("sprig")
    def sprig(
        model: str = typer.Option(
            "embedded",
            "--model",
            "-m",
            help="The model to tune for: embedded | hf:PATH | openai:NAME | vllm:PATH.",
        ),
        benchmark: str = typer.Option(
            "followkit-bench",
            "--benchmark",
            "-b",
            help="NAME[:PATH] of the benchmark that scores candidates.",
        ),
        algorithm: str = typer.Option("beam", "--algorithm", help="beam (beam search) or ga (genetic)."),
        beam: int = typer.Option(10, "--beam", help="Beam width (population size for ga)."),
        rounds: int = typer.Option(3, "--rounds", help="Search rounds (generations for ga)."),
        budget: int = typer.Option(
            None,
            "--budget",
            help="Model calls the search may make (one per item scored, one per rephrasing).",
        ),
        n_train: int = typer.Option(
            20,
            "--train",
            help="Training items: each round's candidates are scored on a fresh sample of this many.",
        ),
        train_pool: int = typer.Option(
            None, "--train-pool", help="Items the training sample is re-drawn from (default 2 x --train)."
        ),
        n_val: int = typer.Option(20, "--val", help="Validation items: the winner is chosen on these."),
        n_heldout: int = typer.Option(
            50, "--heldout", help="Held-out items for the final score (0: all the rest)."
        ),
        n_add: int = typer.Option(
            3, "--n-add", help="Add-children (top UCB components) per member per round."
        ),
        n_delete: int = typer.Option(1, "--n-delete", help="Delete-children per member per round."),
        n_swap: int = typer.Option(1, "--n-swap", help="Swap-children per member per round."),
        n_rephrase: int = typer.Option(1, "--n-rephrase", help="Rephrase-children per member per round."),
        max_components: int = typer.Option(10, "--max-components", help="Longest prompt, in components."),
        finalists: int = typer.Option(
            None, "--finalists", help="Candidates scored on validation (default: beam)."
        ),
        max_tokens: int = typer.Option(256, "--max-tokens", help="Most tokens per answer."),
        metric: str = typer.Option(
            None,
            "--metric",
            help="Benchmark metric to maximise (default: inst_level_strict_acc where reported, else its first).",
        ),
        components: list[str] = typer.Option(
            None, "--components", help="Extra components JSONL ({id, category, lang, text}), repeatable."
        ),
        lang: str = typer.Option("all", "--lang", help="Components to use: en, zh or all."),
        rephrase_model: str = typer.Option(
            None, "--rephrase-model", help="Model that rephrases components (default: --model)."
        ),
        judge: str = typer.Option(None, "--judge", help="Judge model spec, for judged benchmarks (trace)."),
        base_url: str = typer.Option(None, "--base-url", help="Server URL for openai:NAME models."),
        seed: int = typer.Option(0, "--seed", help="Seed of the item split and the search."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the request cache."),
        refresh_cache: bool = typer.Option(
            False, "--refresh-cache", help="Ignore cached answers, store new ones."
        ),
        out: str = typer.Option("runs/sprig", "--out", "-o", help="Output folder."),
    ) -> None:
        """Search for the best system prompt; write best.txt, leaderboard.jsonl/csv, score_by_round.png, sprig.json."""
        from pathlib import Path

        from pydantic import ValidationError

        from followkit.backends import load_backend
        from followkit.errors import InputError, first_error
        from followkit.evaluate.registry import get_benchmark, parse_benchmark_spec
        from followkit.manifest import write_manifest
        from followkit.optimize.corpus import load_components
        from followkit.optimize.sprig import Rephraser, SprigConfig, run_sprig, write_outputs
        from followkit.progress import console

        try:
            cfg = SprigConfig(
                algorithm=algorithm,
                beam=beam,
                rounds=rounds,
                budget=budget,
                n_add=n_add,
                n_delete=n_delete,
                n_swap=n_swap,
                n_rephrase=n_rephrase,
                max_components=max_components,
                train=n_train,
                train_pool=train_pool,
                val=n_val,
                heldout=n_heldout,
                finalists=finalists,
                max_tokens=max_tokens,
                seed=seed,
                metric=metric,
            )
        except ValidationError as exc:
            where, msg = first_error(exc)
            raise InputError(f"--{(where or 'options').replace('_', '-')}: {msg}") from None
        comps = load_components(components or [], lang=lang)
        name, path = parse_benchmark_spec(benchmark)
        bench = get_benchmark(name)
        items = bench.load(path)
        cache_opts = {"cache": not no_cache, "refresh_cache": refresh_cache}
        backend = load_backend(
            model, base_url=base_url if model.startswith("openai:") else None, **cache_opts
        )
        rephrase_backend = backend
        if rephrase_model and rephrase_model != model:
            url = base_url if rephrase_model.startswith("openai:") else None
            rephrase_backend = load_backend(rephrase_model, base_url=url, **cache_opts)
        judge_backend = load_backend(judge, **cache_opts) if judge else None
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
        paths = write_outputs(result, out)
        write_manifest(
            Path(out),
            "sprig",
            {
                **cfg.model_dump(),
                "model": model,
                "benchmark": benchmark,
                "components": components or [],
                "lang": lang,
            },
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
            f"evaluate with: followkit eval -b {benchmark} -m {model} --system-prompt @{paths['best']}"
            if b.components
            else "the empty prompt won: evaluate without --system-prompt"
        )
        typer.echo(f"wrote {paths['best']}; {hint}")
