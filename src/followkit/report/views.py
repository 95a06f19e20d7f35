"""What a run folder holds, as the report sees it: its evaluations, training logs, provenance and the
paired comparisons between its evaluations, with the metrics the tables and pictures show.

Nothing is recomputed from models; a view is read from the run's files.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from followkit.core.io import read_json, read_jsonl
from followkit.core.stats import COUNT_BINS, Comparison, Metric, PromptOutcome, count_bin, mean_metric


@dataclass
class ConstraintView:
    """One constraint of a sample as the report shows it."""

    id: str
    text: str
    passed: bool
    type: str | None = None  # TRACE type when the sample names it (judged TRACE constraints do)


@dataclass
class SampleView:
    """One evaluated sample: prompt, response and per-constraint verdicts (strict)."""

    id: str
    prompt: str
    response: str
    constraints: list[ConstraintView]

    @property
    def followed(self) -> bool:
        return all(c.passed for c in self.constraints)


@dataclass
class EvalView:
    """One evaluation folder of the run."""

    name: str
    path: Path
    results: dict[str, Any]
    samples: list[SampleView]
    outcomes: dict[str, PromptOutcome] = field(default_factory=dict)  # by sample id, for comparisons


@dataclass
class TrainView:
    """One training folder: its logged steps."""

    name: str
    path: Path
    steps: list[dict[str, Any]]


@dataclass
class RunView:
    """Everything the report shows."""

    run_dir: Path
    evals: list[EvalView] = field(default_factory=list)
    trains: list[TrainView] = field(default_factory=list)
    manifests: dict[str, dict] = field(default_factory=dict)
    pipeline: dict[str, Any] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[tuple[EvalView, EvalView, Comparison]] | None = None  # see comparisons()


def _sample_view(rec: dict[str, Any]) -> SampleView:
    """Adapt a samples.jsonl record (eval's format) to the report's view."""
    prompt = rec.get("prompt")
    if prompt is None:
        msgs = rec.get("messages") or []
        prompt = "\n\n".join(f"[{m.get('role')}] {m.get('content')}" for m in msgs)
    constraints = rec.get("constraints") or []
    verdicts = rec.get("verdicts") or {}
    strict = verdicts.get("strict") if isinstance(verdicts, dict) else None
    if strict is None:
        strict = rec.get("follow_instruction_list") or rec.get("strict") or []
    views = []
    for i, c in enumerate(constraints):
        cid = c.get("id", "?") if isinstance(c, dict) else str(c)
        text = c.get("text", "") if isinstance(c, dict) else ""
        passed = bool(strict[i]) if i < len(strict) else False
        ttype = c.get("type") if isinstance(c, dict) else None
        views.append(ConstraintView(cid, text, passed, ttype))
    if not views and rec.get("instruction_id_list"):
        views = [
            ConstraintView(cid, "", bool(p))
            for cid, p in zip(rec["instruction_id_list"], strict, strict=False)
        ]
    return SampleView(
        str(rec.get("id", rec.get("key", ""))), str(prompt), str(rec.get("response", "")), views
    )


def read_samples(path: Path, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """samples.jsonl rows checked as followkit.core.records.EvalSample (older files: key/prompt through the
    'prompt' adapter); a row that still does not fit is shown as it is, since a report never refuses a
    finished run's samples."""
    from followkit.core.errors import InputError
    from followkit.core.records import EvalSample, parse_row

    out = []
    for line, rec in enumerate(raw, start=1):
        try:
            sample = parse_row(rec, EvalSample, path, line, shape="prompt")
            out.append(
                {**rec, "id": sample.id, "response": sample.response}
            )  # the row's own view fields kept
        except InputError:
            out.append(rec)
    return out


def load_run(run_dir: str | Path) -> RunView:
    """Collect the evaluation, training and provenance files of a run folder."""
    rd = Path(run_dir)
    view = RunView(rd)
    if (rd / "pipeline.json").exists():
        view.pipeline = read_json(rd / "pipeline.json")
    if (rd / ".pipeline" / "last_run.json").exists():
        view.stages = json.loads((rd / ".pipeline" / "last_run.json").read_text())
    for res in sorted(rd.rglob("results.json")):
        folder = res.parent
        samples_file = folder / "samples.jsonl"
        if not samples_file.exists():
            continue
        from followkit.evaluate.compare import outcomes

        raw = read_jsonl(samples_file)
        samples = [_sample_view(r) for r in read_samples(samples_file, raw)]
        name = str(folder.relative_to(rd)).removeprefix("eval/")
        view.evals.append(EvalView(name, folder, read_json(res), samples, outcomes(raw)))
    for log in sorted(rd.rglob("log.jsonl")):
        steps = [r for r in read_jsonl(log) if "loss" in r]
        if steps:
            view.trains.append(TrainView(log.parent.name, log.parent, steps))
    for man in sorted(rd.rglob("manifest.json")):
        view.manifests[str(man.parent.relative_to(rd))] = read_json(man)
    return view


def by_constraint_count(ev: EvalView) -> dict[int, Metric]:
    """Prompt-level strict accuracy grouped by number of constraints."""
    groups: dict[int, list[float]] = defaultdict(list)
    for s in ev.samples:
        groups[len(s.constraints)].append(1.0 if s.followed else 0.0)
    return {k: mean_metric(v) for k, v in sorted(groups.items())}


def by_constraint_bin(ev: EvalView) -> dict[str, Metric]:
    """Prompt-level strict accuracy in bins of the number of constraints (1, 2-3, 4-5, 6+)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for s in ev.samples:
        groups[count_bin(len(s.constraints))].append(1.0 if s.followed else 0.0)
    return {k: mean_metric(groups[k]) for k in COUNT_BINS if k in groups}


BASELINE = "baseline"
"""The evaluation folder every sibling evaluation is compared with (same prompts, paired)."""


METHOD_COMPARISONS: tuple[tuple[str, str], ...] = (("dpo", "iopo"), ("sft", "dpo"))
"""(base, other) folders compared directly, beside the baseline: the seeds' claims that IOPO beats
DPO+SFT and DPO+SFT beats SFT, tested on the same prompts."""


def comparisons(view: RunView) -> list[tuple[EvalView, EvalView, Comparison]]:
    """(base, other, paired comparison): each evaluation against the `baseline` folder beside it, then
    the METHOD_COMPARISONS of that folder; computed once per view."""
    if view.comparisons is not None:
        return view.comparisons
    from followkit.evaluate.compare import compare_outcomes

    by_place = {(ev.path.parent, ev.path.name): ev for ev in view.evals}
    pairs: list[tuple[EvalView, EvalView]] = []
    for parent in dict.fromkeys(ev.path.parent for ev in view.evals):
        base = by_place.get((parent, BASELINE))
        if base is not None:
            pairs += [(base, ev) for ev in view.evals if ev.path.parent == parent and ev is not base]
        for b, o in METHOD_COMPARISONS:
            if (parent, b) in by_place and (parent, o) in by_place:
                pairs.append((by_place[(parent, b)], by_place[(parent, o)]))
    view.comparisons = [
        (b, e, compare_outcomes(b.outcomes, e.outcomes)) for b, e in pairs if b.outcomes and e.outcomes
    ]
    return view.comparisons


def panel_label(ev: EvalView) -> str:
    """What a group of evaluations measured: the benchmark, and the half of it when split."""
    cfg = ev.results.get("config") or {}
    name = str(ev.results.get("benchmark") or cfg.get("benchmark") or ev.path.parent.name).split(":")[0]
    split = cfg.get("split")
    return f"{name} ({split} half)" if split and split != "all" else name


def by_constraint_id(ev: EvalView) -> dict[str, Metric]:
    """Strict pass rate per constraint id."""
    groups: dict[str, list[float]] = defaultdict(list)
    for s in ev.samples:
        for c in s.constraints:
            groups[c.id].append(1.0 if c.passed else 0.0)
    return {k: mean_metric(v) for k, v in sorted(groups.items())}


def by_trace_type(ev: EvalView) -> dict[str, Metric]:
    """Strict pass rate per TRACE type (content, situation, style, format, example)."""
    from followkit.constraints import registry
    from followkit.constraints.taxonomy import DIMENSIONS

    groups: dict[str, list[float]] = defaultdict(list)
    reg = registry.registry()
    for s in ev.samples:
        for c in s.constraints:
            ct = reg.get(c.id)
            ttype = c.type or (DIMENSIONS[ct.dimension].type if ct is not None else "other")
            groups[ttype].append(1.0 if c.passed else 0.0)
    return {k: mean_metric(v) for k, v in sorted(groups.items())}


def prompt_accuracy(ev: EvalView) -> Metric:
    """Prompt-level strict accuracy over the samples."""
    return mean_metric([1.0 if s.followed else 0.0 for s in ev.samples])


def instruction_accuracy(ev: EvalView) -> Metric:
    """Instruction-level strict accuracy (micro average over constraints)."""
    return mean_metric([1.0 if c.passed else 0.0 for s in ev.samples for c in s.constraints])
