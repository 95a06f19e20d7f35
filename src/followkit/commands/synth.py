"""`followkit synth ...`: compose, expand, respond, refine and pairs (the data side of followkit)."""

from __future__ import annotations

import json
from typing import Any

import typer

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
_OUT = typer.Option(..., "--out", "-o", help="Output folder (records + manifest.json).")
_NO_CACHE = typer.Option(False, "--no-cache", help="Neither read nor write the request cache.")
_REFRESH = typer.Option(False, "--refresh-cache", help="Ignore cached answers, store new ones.")


def register(app: typer.Typer) -> None:
    """Add the `synth` command group."""
    synth = typer.Typer(help="Synthesize complex instructions, responses with verdicts, and preference data.")
    app.add_typer(synth, name="synth")

    @synth.command("compose")
    def compose_cmd(
        out: str = _OUT,
        n: int = typer.Option(None, "--n", help="Number of instructions (default 200)."),
        seed: int = typer.Option(None, "--seed", help="Random seed (default 0)."),
        seeds: str = typer.Option(
            None, "--seeds", help="Seed-task file (JSONL or text), or builtin / heldout."
        ),
        language: list[str] = typer.Option(None, "--language", help="Keep seeds in this language (en, zh)."),
        k: str = typer.Option(
            None, "--k", help="Constraints per instruction: trace | uniform:A-B | fixed:K | K:W,..."
        ),
        include: list[str] = typer.Option(None, "--include", help="Only constraint ids with this prefix."),
        exclude: list[str] = typer.Option(None, "--exclude", help="Drop constraint ids with this prefix."),
        repairable: bool = typer.Option(
            False,
            "--repairable",
            help="Only ids the rule teacher repairs (for `synth refine --teacher rules`).",
        ),
        config: str = _CONFIG,
        set_: list[str] = _SET,
    ) -> None:
        """Seed tasks + k compatible verifiable constraints -> OUT/instructions.jsonl."""
        from followkit.synth.compose import ComposeConfig, run_compose

        cfg = _config(
            ComposeConfig,
            config,
            set_,
            n=n,
            seed=seed,
            seeds=seeds,
            languages=language or None,
            k=k,
            include=include or None,
            exclude=exclude or None,
            repairable=repairable or None,
        )
        _summary(run_compose(cfg, out))

    @synth.command("expand")
    def expand_cmd(
        out: str = _OUT,
        n: int = typer.Option(None, "--n", help="Number of instructions (default 50)."),
        seed: int = typer.Option(None, "--seed", help="Random seed (default 0)."),
        seeds: str = typer.Option(None, "--seeds", help="Seed-task file, or builtin / heldout."),
        language: list[str] = typer.Option(None, "--language", help="Keep seeds in this language (en, zh)."),
        k: str = typer.Option(None, "--k", help="Constraints asked for per instruction (distribution)."),
        model: str = typer.Option(None, "--model", "-m", help=ROLE_HELP),
        base_url: str = typer.Option(None, "--base-url", help="Server URL for openai:NAME."),
        max_tokens: int = typer.Option(
            None, "--max-tokens", help="Most tokens per model reply (default 512)."
        ),
        no_cache: bool = _NO_CACHE,
        refresh_cache: bool = _REFRESH,
        config: str = _CONFIG,
        set_: list[str] = _SET,
    ) -> None:
        """TRACE stages 2-4: expand, structure (validated JSON), quality-control -> OUT/instructions.jsonl."""
        from followkit.synth.expand import ExpandConfig, run_expand

        cfg = _config(
            ExpandConfig,
            config,
            set_,
            n=n,
            seed=seed,
            seeds=seeds,
            languages=language or None,
            k=k,
            model=model,
            base_url=base_url,
            max_tokens=max_tokens,
            cache=False if no_cache else None,
            refresh_cache=True if refresh_cache else None,
        )
        _summary(run_expand(cfg, out))

    @synth.command("respond")
    def respond_cmd(
        out: str = _OUT,
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

    @synth.command("refine")
    def refine_cmd(
        out: str = _OUT,
        responses: str = typer.Option(
            None, "--responses", help="Student responses (default OUT/responses.jsonl)."
        ),
        student: str = typer.Option(
            None, "--student", help="Student, if no responses exist yet. " + ROLE_HELP
        ),
        teacher: str = typer.Option(
            None,
            "--teacher",
            help="Teacher that fixes responses: 'rules' (offline rule repairs), 'rules+MODEL' "
            "(rules, then the model for the rest) or a model. " + ROLE_HELP,
        ),
        judge: str = typer.Option(None, "--judge", help="Judge for judged constraints. " + ROLE_HELP),
        base_url: str = typer.Option(None, "--base-url", help="Server URL for openai:NAME roles."),
        teacher_base_url: str = typer.Option(None, "--teacher-base-url", help="Server URL for the teacher."),
        max_tokens: int = typer.Option(
            None, "--max-tokens", help="Most tokens per teacher reply (default 512)."
        ),
        seed: int = typer.Option(None, "--seed", help="Seed (default 0)."),
        no_cache: bool = _NO_CACHE,
        refresh_cache: bool = _REFRESH,
        config: str = _CONFIG,
        set_: list[str] = _SET,
    ) -> None:
        """Fix failed constraints one at a time -> OUT/pairs_refine.jsonl and OUT/sft_refine.jsonl."""
        from followkit.synth.refine import RefineConfig, run_refine

        cfg = _config(
            RefineConfig,
            config,
            set_,
            responses=responses,
            student=student,
            teacher=teacher,
            judge=judge,
            base_url=base_url,
            teacher_base_url=teacher_base_url,
            max_tokens=max_tokens,
            seed=seed,
            cache=False if no_cache else None,
            refresh_cache=True if refresh_cache else None,
        )
        _summary(run_refine(cfg, out))

    @synth.command("pairs")
    def pairs_cmd(
        out: str = _OUT,
        format: str = typer.Option(None, "--format", "-f", help="dpo | iopo | sft (default dpo)."),
        responses: str = typer.Option(None, "--responses", help="Responses (default OUT/responses.jsonl)."),
        mode: str = typer.Option(None, "--mode", help="strict | loose verdicts (default strict)."),
        seed: int = typer.Option(None, "--seed", help="Seed (default 0)."),
        student: str = typer.Option(None, "--student", "--model", help="iopo: samples y2. " + ROLE_HELP),
        teacher: str = typer.Option(
            None, "--teacher", help="iopo: rewrites judged constraints. " + ROLE_HELP
        ),
        judge: str = typer.Option(None, "--judge", help="Judge for judged constraints. " + ROLE_HELP),
        base_url: str = typer.Option(None, "--base-url", help="Server URL for openai:NAME roles."),
        y2: str = typer.Option(
            None,
            "--y2",
            help="iopo: 'sample' y2 from the student (default) or 'repair' it by rules, offline.",
        ),
        n: int = typer.Option(None, "--n", help="iopo: y2 samples per x2 (default 4)."),
        temperature: float = typer.Option(None, "--temperature", help="iopo: y2 temperature (default 0.8)."),
        max_tokens: int = typer.Option(None, "--max-tokens", help="iopo: most tokens per y2 (default 512)."),
        no_cache: bool = _NO_CACHE,
        refresh_cache: bool = _REFRESH,
        config: str = _CONFIG,
        set_: list[str] = _SET,
    ) -> None:
        """Preference data: OUT/pairs_dpo.jsonl, OUT/groups_iopo.jsonl or OUT/sft.jsonl."""
        from followkit.synth.pairs import PairsConfig, run_pairs

        cfg = _config(
            PairsConfig,
            config,
            set_,
            format=format,
            responses=responses,
            mode=mode,
            seed=seed,
            student=student,
            teacher=teacher,
            judge=judge,
            base_url=base_url,
            y2=y2,
            n=n,
            temperature=temperature,
            max_tokens=max_tokens,
            cache=False if no_cache else None,
            refresh_cache=True if refresh_cache else None,
        )
        _summary(run_pairs(cfg, out))
