"""`followkit synth ...`: compose, expand, respond, refine and pairs (the data side of followkit)."""

from __future__ import annotations

import inspect
import json
from typing import Any

import typer

from followkit.options import config_command
from followkit.synth.compose import ComposeConfig
from followkit.synth.expand import ExpandConfig
from followkit.synth.pairs import PairsConfig
from followkit.synth.refine import RefineConfig

ROLE_HELP = (
    "embedded | hf:PATH | openai:NAME (with --base-url) | vllm:PATH | auto:CAR_JSON (the best teacher of "
    "`followkit car`) (default embedded)."
)


def _config(schema: Any, config: str | None, sets: list[str] | None, **cli: Any) -> Any:
    """One config model: YAML file, then the flags given on the command line, then --set a.b=v."""
    from pydantic import ValidationError

    from followkit.config import apply_overrides, load_yaml
    from followkit.errors import InputError

    data = load_yaml(config) if config else {}
    data.update({k: v for k, v in cli.items() if v is not None})
    apply_overrides(data, sets or [])
    try:
        return schema.model_validate(data)
    except ValidationError as exc:  # named after the config file, where a wrong key most likely sits
        raise InputError.from_validation(exc, path=config or "command line") from None


def _summary(manifest: dict[str, Any]) -> None:
    counts = manifest.get("counts", {})
    typer.echo(f"{manifest['stage']}: " + json.dumps(counts, ensure_ascii=False))


_CONFIG = typer.Option(None, "--config", help="YAML file with the stage's settings.")
_SET = typer.Option(None, "--set", help="Override a setting: key=value (repeatable).")
OUT = inspect.Parameter(
    "out",
    inspect.Parameter.KEYWORD_ONLY,
    default=typer.Option(..., "--out", "-o", help="Output folder (records + manifest.json)."),
    annotation=str,
)
_NO_CACHE = typer.Option(False, "--no-cache", help="Neither read nor write the request cache.")
_REFRESH = typer.Option(False, "--refresh-cache", help="Ignore cached answers, store new ones.")


def register(app: typer.Typer) -> None:
    """Add the `synth` command group."""
    synth = typer.Typer(help="Synthesize complex instructions, responses with verdicts, and preference data.")
    app.add_typer(synth, name="synth")

    @config_command(synth, "compose", ComposeConfig, params=[OUT])
    def compose_cmd(cfg: ComposeConfig, out: str) -> None:
        """Seed tasks + k compatible verifiable constraints -> OUT/instructions.jsonl."""
        from followkit.synth.compose import run_compose

        _summary(run_compose(cfg, out))

    @config_command(synth, "expand", ExpandConfig, params=[OUT])
    def expand_cmd(cfg: ExpandConfig, out: str) -> None:
        """TRACE stages 2-4: expand, structure (validated JSON), quality-control -> OUT/instructions.jsonl."""
        from followkit.synth.expand import run_expand

        _summary(run_expand(cfg, out))

    @synth.command("respond")
    def respond_cmd(
        out: str = OUT.default,
        instructions: str = typer.Option(
            None, "--instructions", help="Instruction JSONL (default OUT/instructions.jsonl)."
        ),
        n: int = typer.Option(None, "--n", help="Samples per instruction (default 4)."),
        temperature: float = typer.Option(None, "--temperature", help="Sampling temperature (default 0.8)."),
        top_p: float = typer.Option(None, "--top-p", help="Nucleus mass (default 0.95)."),
        max_tokens: int = typer.Option(None, "--max-tokens", help="Most tokens per response (default 512)."),
        seed: int = typer.Option(None, "--seed", help="Sampling seed (default 0)."),
        dtype: str = typer.Option(
            None, "--dtype", help="Student dtype on local engines: auto, float32 (CPU default), bfloat16."
        ),
        system: str = typer.Option(None, "--system", help="System prompt for the student."),
        student: str = typer.Option(None, "--student", "--model", help=ROLE_HELP),
        judge: str = typer.Option(None, "--judge", help="Judge for judged constraints. " + ROLE_HELP),
        base_url: str = typer.Option(None, "--base-url", help="Server URL for openai:NAME."),
        judge_base_url: str = typer.Option(None, "--judge-base-url", help="Server URL for an openai judge."),
        limit: int = typer.Option(None, "--limit", help="Only the first N instructions."),
        no_cache: bool = _NO_CACHE,
        refresh_cache: bool = _REFRESH,
        config: str = _CONFIG,
        set_: list[str] = _SET,
    ) -> None:
        """n responses per instruction with per-constraint verdicts -> OUT/responses.jsonl."""
        from followkit.synth.respond import RespondConfig, run_respond

        cfg = _config(
            RespondConfig,
            config,
            set_,
            instructions=instructions,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
            dtype=dtype,
            system=system,
            student=student,
            judge=judge,
            base_url=base_url,
            judge_base_url=judge_base_url,
            limit=limit,
            cache=False if no_cache else None,
            refresh_cache=True if refresh_cache else None,
        )
        _summary(run_respond(cfg, out))

    @config_command(synth, "refine", RefineConfig, params=[OUT])
    def refine_cmd(cfg: RefineConfig, out: str) -> None:
        """Fix failed constraints one at a time -> OUT/pairs_refine.jsonl and OUT/sft_refine.jsonl."""
        from followkit.synth.refine import run_refine

        _summary(run_refine(cfg, out))

    @config_command(synth, "pairs", PairsConfig, params=[OUT])
    def pairs_cmd(cfg: PairsConfig, out: str) -> None:
        """Preference data: OUT/pairs_dpo.jsonl, OUT/groups_iopo.jsonl or OUT/sft.jsonl."""
        from followkit.synth.pairs import run_pairs

        _summary(run_pairs(cfg, out))
