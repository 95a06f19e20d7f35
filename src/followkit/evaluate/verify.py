"""`followkit verify` as a library call: settings, then verdicts per instruction (strict and loose) for a
file of responses, written as verdicts_{strict,loose}.jsonl and results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from followkit.constraints.verify import MODES, Mode
from followkit.core.errors import InputError
from followkit.core.reasoning import DEFAULT_MARKERS_TEXT
from followkit.core.settings import Reasoning, ReasoningMarkers, cli


class VerifyConfig(BaseModel):
    """Settings of `followkit verify`; each is also a flag (followkit.core.settings)."""

    model_config = ConfigDict(extra="forbid")

    file: Path = Field(
        description="JSONL responses: IFEval rows (key, prompt, instruction_id_list, kwargs, response), "
        "followkit rows (id, constraints, prompt, response), or prompt+response rows with --prompts",
        json_schema_extra=cli(argument=True, metavar="FILE"),
    )
    prompts: Path | None = Field(
        None, description="IFEval prompts file to join FILE's responses to, by prompt text"
    )
    mode: Literal["strict", "loose", "both"] = Field("both", description="Which verdicts")
    out: Path | None = Field(
        None, description="Write verdicts_{strict,loose}.jsonl and results.json to this folder"
    )
    workers: int = Field(1, ge=0, description="Worker processes (0: one per CPU)")
    semantics: Literal["reference", "corrected"] = Field(
        "reference",
        description="reference: the benchmark authors' verdicts; corrected: followkit's reading where they "
        "differ (docs/deviations.md)",
    )
    reasoning: Reasoning = "strip"
    reasoning_markers: ReasoningMarkers = DEFAULT_MARKERS_TEXT

    @property
    def modes(self) -> tuple[Mode, ...]:
        """The verdict modes to compute."""
        return MODES if self.mode == "both" else (self.mode,)  # type: ignore[return-value]


def run_verify(cfg: VerifyConfig, progress: bool | None = None) -> dict[str, Any]:
    """Verify cfg.file; writes verdicts and results.json to cfg.out when given; returns results.json's body."""
    from followkit.constraints.verify import default_workers, load_items, verify_items
    from followkit.core.io import file_sha256
    from followkit.core.progress import stage_progress
    from followkit.core.reasoning import parse_markers

    if cfg.out is not None and cfg.out.exists() and not cfg.out.is_dir():
        raise InputError(
            "--out names a file; it must be a folder (verdicts and results.json go in it)", path=str(cfg.out)
        )
    missing: list = []
    markers = parse_markers(cfg.reasoning_markers)
    # validates every row before anything is verified or written
    items = load_items(
        cfg.file,
        cfg.prompts,
        missing=missing,
        semantics=cfg.semantics,
        reasoning=cfg.reasoning,
        markers=markers,
    )
    n_workers = cfg.workers or default_workers()
    with stage_progress("verify", total=len(items), enabled=progress) as bar:
        results = verify_items(items, cfg.modes, workers=n_workers, on_progress=bar.advance)
    return _write(items, results, cfg, n_workers, file_sha256(cfg.file), missing, markers)


def _write(
    items, results, cfg: VerifyConfig, workers: int, data_hash: str, missing, markers
) -> dict[str, Any]:
    from followkit import __version__
    from followkit.constraints.verify import summarize, verdict_rows
    from followkit.core.io import write_json, write_jsonl
    from followkit.core.reasoning import trace_summary

    traces = trace_summary([it.reasoning_status for it in items], cfg.reasoning, markers)
    summary = {m: summarize(items, v) for m, v in results.items()}
    judged = sorted({cid for it in items for cid in it.judged})
    doc = {
        "input": str(cfg.file),
        "prompts": str(cfg.prompts) if cfg.prompts else None,
        "data_sha256": data_hash,
        "rows": len(items),
        "semantics": cfg.semantics,
        "reasoning": traces,
        "missing_responses": len(missing),
        "missing_keys": list(missing),
        "workers": workers,
        "followkit_version": __version__,
        "results": summary,
        "judged_not_verified": judged,
    }
    if cfg.out is not None:
        for m, v in results.items():
            write_jsonl(Path(cfg.out) / f"verdicts_{m}.jsonl", verdict_rows(items, v))
        write_json(Path(cfg.out) / "results.json", doc)
    return doc
