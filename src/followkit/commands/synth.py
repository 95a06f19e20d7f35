"""`followkit synth ...`: compose, expand, respond, refine and pairs (the data side of followkit)."""

from __future__ import annotations

import json
from typing import Any

import typer

from followkit.core.settings import config_command, parameter
from followkit.synth.compose import ComposeConfig
from followkit.synth.expand import ExpandConfig
from followkit.synth.pairs import PairsConfig
from followkit.synth.refine import RefineConfig
from followkit.synth.respond import RespondConfig


def _summary(manifest: dict[str, Any]) -> None:
    counts = manifest.get("counts", {})
    typer.echo(f"{manifest['stage']}: " + json.dumps(counts, ensure_ascii=False))


OUT = parameter("out", str, typer.Option(..., "--out", "-o", help="Output folder (records + manifest.json)."))


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

    @config_command(synth, "respond", RespondConfig, params=[OUT])
    def respond_cmd(cfg: RespondConfig, out: str) -> None:
        """n responses per instruction with per-constraint verdicts -> OUT/responses.jsonl."""
        from followkit.synth.respond import run_respond

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
