"""`followkit train`: SFT, DPO (+SFT), IOPO, SimPO or ORPO on transformers' Trainer, GRPO on TRL's, LoRA by default."""

from __future__ import annotations

import typer

from followkit.core.settings import config_command, parameter
from followkit.train.config import TrainConfig


def register(app: typer.Typer) -> None:
    """Add the `train` command."""
    resume = parameter(
        "resume", bool, typer.Option(False, "--resume", help="Resume from the last checkpoint in --out.")
    )

    @config_command(
        app,
        "train",
        TrainConfig,
        params=[resume],
        overrides_as_arguments=True,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": False},
    )
    def train(settings: TrainConfig, resume: bool) -> None:
        """Train a model: SFT, DPO (+SFT), IOPO, SimPO, ORPO or GRPO. key=value arguments override settings as --set does.

        Multi-GPU: accelerate launch --config_file CONFIG -m followkit.cli train ...
        (example configs: followkit/configs/accelerate_zero3.yaml, accelerate_fsdp.yaml).
        """
        import yaml

        from followkit.core.redact import redact
        from followkit.train import run

        check_data(settings)  # every record, before OUT/config.yaml is written or a model loads
        effective = yaml.safe_dump(settings.model_dump(), sort_keys=False).rstrip()
        typer.echo("effective config:\n" + redact(effective))  # a judge_base_url may hold a key
        summary = run(settings, resume=resume)
        typer.echo(
            f"trained {summary['items']} items for {summary['global_step']} steps "
            f"(loss {summary['train_loss']:.4f}); output in {settings.out}"
        )


def check_data(settings: object) -> None:
    """Read and check every training record (no tokenizer): bad rows, duplicates and empty files fail here.

    The runners read the file again after writing OUT/config.yaml and loading the model; this pass
    makes bad data fail first, with nothing written (DESIGN 10).
    """
    from followkit.core.errors import InputError
    from followkit.core.io import check_input_file
    from followkit.core.registry import resolve
    from followkit.train.data import data_files
    from followkit.train.methods import method as train_method

    method, path = settings.method, str(settings.data)  # type: ignore[attr-defined]
    skip = bool(getattr(settings, "skip_bad_records", False))
    for file in data_files(path):
        check_input_file(file, "JSONL file")
    row = train_method(method)
    if row.data_check:  # a runner with its own reader (GRPO's prompts)
        resolve(row.data_check)(path, skip)  # raises on a bad row, or no usable row
        return
    from followkit.train.data import DataStats, iter_parsed
    from followkit.train.mix import check_mix, parse_mix_spec

    check_mix([parse_mix_spec(m) for m in getattr(settings, "mix", [])])
    if not sum(1 for _ in iter_parsed(path, method, DataStats(), skip)):  # every row is checked
        raise InputError("no usable training records (empty file)", path=path)
