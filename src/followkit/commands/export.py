"""`followkit export lm-eval DIR`: followkit's benchmarks as lm-evaluation-harness tasks; `export general DIR`: the general sets."""

from __future__ import annotations

import typer

from followkit.lmeval.export import DEFAULT_MAX_GEN_TOKS


def register(app: typer.Typer) -> None:
    """Add the `export` command group."""
    group = typer.Typer(help="Export followkit's benchmarks for other tools.", no_args_is_help=True)
    app.add_typer(group, name="export")

    @group.command("lm-eval")
    def lm_eval(
        out_dir: str = typer.Argument(
            ..., metavar="DIR", help="Folder for the task YAML, data and metrics module."
        ),
        ifeval: str | None = typer.Option(
            None,
            "--ifeval",
            help="Local IFEval JSONL (key/prompt/instruction_id_list/kwargs): adds followkit_ifeval.",
        ),
        ifbench: str | None = typer.Option(
            None, "--ifbench", help="Local IFBench JSONL (IFBench_test.jsonl): adds followkit_ifbench."
        ),
        max_gen_toks: int = typer.Option(
            DEFAULT_MAX_GEN_TOKS, "--max-gen-toks", help="New tokens per response in the tasks."
        ),
    ) -> None:
        """Write lm-eval tasks (followkit_bench, and IFEval / IFBench from local files) scored by followkit's checkers."""
        from followkit.lmeval.export import export_lm_eval

        for path in export_lm_eval(out_dir, ifeval=ifeval, ifbench=ifbench, max_gen_toks=max_gen_toks):
            typer.echo(f"wrote {path}")
        typer.echo(
            f"run: lm_eval --include_path {out_dir} --tasks followkit_bench --model hf --model_args pretrained=PATH --apply_chat_template"
        )

    @group.command("general")
    def general(
        out_dir: str = typer.Argument(..., metavar="DIR", help="Folder for the two files."),
    ) -> None:
        """Write followkit's own general sets: DIR/heldout_prompts.jsonl (instructions) and DIR/mix_sft.jsonl."""
        import shutil
        from pathlib import Path

        from followkit.train.mix import builtin_path

        src = builtin_path("builtin:general").parent
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        for name in ("heldout_prompts.jsonl", "mix_sft.jsonl"):
            shutil.copyfile(src / name, Path(out_dir) / name)
            typer.echo(f"wrote {Path(out_dir) / name}")
