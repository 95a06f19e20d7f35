"""`followkit train`: SFT, DPO (+SFT) or IOPO on transformers' Trainer, GRPO on TRL's, LoRA by default."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `train` command."""

    @app.command(
        "train",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": False},
    )
    def train(
        method: str = typer.Option(..., "--method", help="sft | dpo | iopo | grpo"),
        data: str = typer.Option(
            ..., "--data", help="Training JSONL (SFT messages, TRL DPO pairs, IOPO groups; grpo: prompts)."
        ),
        out: str = typer.Option(
            ..., "--out", help="Output folder (checkpoints, adapter/, merged/, log.jsonl)."
        ),
        model: str = typer.Option(
            None, "--model", help="'embedded' (the default) or a local HF model folder."
        ),
        config: str = typer.Option(
            None, "--config", help="A train.yaml (fields of followkit.train.config.TrainConfig)."
        ),
        sft_weight: float = typer.Option(
            None, "--sft-weight", help="DPO+SFT: weight of the SFT term on chosen."
        ),
        mix: list[str] = typer.Option(
            None,
            "--mix",
            help="General SFT data to blend in: FILE:RATIO or builtin:general:RATIO (repeatable; also mix=...).",
        ),
        resume: bool = typer.Option(False, "--resume", help="Resume from the last checkpoint in --out."),
        overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. beta=0.2 max_steps=10."),
    ) -> None:
        """Train a model; key=value arguments override the config file. Launch under `accelerate launch` for multi-GPU.

        Multi-GPU: accelerate launch --config_file CONFIG -m followkit.cli train ...
        (example configs: followkit/configs/accelerate_zero3.yaml, accelerate_fsdp.yaml).
        """
        import yaml
        from pydantic import ValidationError

        from followkit.config import apply_overrides, load_yaml
        from followkit.errors import InputError
        from followkit.train import run
        from followkit.train.config import TrainConfig

        values: dict = load_yaml(config) if config else {}
        cli = {"method": method, "data": data, "out": out, "model": model, "sft_weight": sft_weight}
        values.update({k: v for k, v in cli.items() if v is not None})
        # mix= may repeat (unlike other keys): gather every mix source from mix= and --mix.
        mixes = list(mix or []) + [o.partition("=")[2] for o in overrides or [] if o.startswith("mix=")]
        mixes = [m for m in mixes if m.strip()]  # `mix=` with no value (a pipeline's empty variable): none
        apply_overrides(values, [o for o in overrides or [] if not o.startswith("mix=")])
        if mixes:
            values["mix"] = mixes
        try:
            settings = TrainConfig.model_validate(values)
        except ValidationError as exc:
            raise InputError.from_validation(exc, path=config or "command line") from None
        check_data(settings)  # every record, before OUT/config.yaml is written or a model loads
        typer.echo("effective config:\n" + yaml.safe_dump(settings.model_dump(), sort_keys=False).rstrip())
        summary = run(settings, resume=resume)
        typer.echo(
            f"trained {summary['items']} items for {summary['global_step']} steps "
            f"(loss {summary['train_loss']:.4f}); output in {out}"
        )


def check_data(settings: object) -> None:
    """Read and check every training record (no tokenizer): bad rows, duplicates and empty files fail here.

    The runners read the file again after writing OUT/config.yaml and loading the model; this pass
    makes bad data fail first, with nothing written (DESIGN 10).
    """
    from followkit.errors import InputError
    from followkit.io import check_input_file

    method, path = settings.method, str(settings.data)  # type: ignore[attr-defined]
    skip = bool(getattr(settings, "skip_bad_records", False))
    check_input_file(path, "JSONL file")
    if method == "grpo":
        from followkit.train.grpo import load_prompts

        load_prompts(path, skip)  # raises on a bad row, or when no row is usable
        return
    from followkit.train.data import DataStats, iter_parsed
    from followkit.train.mix import check_mix, parse_mix_spec

    check_mix([parse_mix_spec(m) for m in getattr(settings, "mix", [])])
    if not sum(1 for _ in iter_parsed(path, method, DataStats(), skip)):  # every row is checked
        raise InputError("no usable training records (empty file)", path=path)
