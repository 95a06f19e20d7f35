"""`followkit eval`: how well does a model follow complex instructions, on a named benchmark."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `eval` command."""

    @app.command("eval")
    def eval_cmd(
        benchmark: str = typer.Option(
            ...,
            "--benchmark",
            "-b",
            help="NAME[:PATH]: ifeval, ifbench, trace, followkit-bench, kcif, cfbench, complexbench or complexbench-en.",
        ),
        model: str = typer.Option(
            "embedded", "--model", "-m", help="embedded | hf:PATH | openai:NAME | vllm:PATH."
        ),
        base_url: str = typer.Option(
            None, "--base-url", help="Server URL for openai:NAME (e.g. http://127.0.0.1:8000/v1)."
        ),
        limit: int = typer.Option(None, "--limit", help="Evaluate only the first N items."),
        system_prompt: str = typer.Option(
            None, "--system-prompt", help="System prompt TEXT, or @FILE to read it."
        ),
        judge: str = typer.Option(
            None, "--judge", help="Judge model spec, for judged benchmarks (trace, cfbench, complexbench)."
        ),
        judge_base_url: str = typer.Option(
            None, "--judge-base-url", help="Server URL for an openai:NAME judge."
        ),
        judge_template: str = typer.Option(
            None, "--judge-template", help="Judge prompt: en, zh or a template file."
        ),
        max_tokens: int = typer.Option(512, "--max-tokens", help="Most tokens per response."),
        temperature: float = typer.Option(0.0, "--temperature", help="0 is greedy (the default)."),
        top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (with --temperature > 0)."),
        seed: int = typer.Option(0, "--seed", help="Sampling seed (part of the cache key)."),
        batch_size: int = typer.Option(
            None, "--batch-size", help="Prompts per backend call (default: 64 local, openai 64, vllm 256)."
        ),
        dtype: str = typer.Option(
            None,
            "--dtype",
            help="Local engines: float32 (CPU default), bfloat16, or auto (bfloat16 on a GPU or a CPU "
            "with native bfloat16, else float32).",
        ),
        no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the request cache."),
        refresh_cache: bool = typer.Option(
            False, "--refresh-cache", help="Ignore cached answers, store new ones."
        ),
        out: str = typer.Option(None, "--out", "-o", help="Output folder (default runs/eval/BENCH/MODEL)."),
        semantics: str = typer.Option(
            "reference",
            "--semantics",
            help="reference: score as the benchmark's authors' code does (default); corrected: "
            "followkit's reading where they differ (docs/deviations.md).",
        ),
    ) -> None:
        """Generate, verify (rules) or judge (LLM), and write results.json, samples.jsonl and report.md."""
        from followkit.evaluate.report import print_summary
        from followkit.evaluate.runner import EvalConfig, run_eval

        cfg = EvalConfig(
            benchmark=benchmark,
            model=model,
            base_url=base_url,
            limit=limit,
            system_prompt=system_prompt,
            judge=judge,
            judge_base_url=judge_base_url,
            judge_template=judge_template,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            batch_size=batch_size,
            dtype=dtype,
            cache=not no_cache,
            refresh_cache=refresh_cache,
            out=out,
            semantics=semantics,
        )
        results = run_eval(cfg)
        print_summary(results)
        if results.get("n_failed"):
            raise typer.Exit(1)
