"""TRACE (Sun et al. 2024, the IOPO paper's benchmark): complex instructions scored by an LLM judge.

Rows (see ../shared/data/trace/trace_eval.jsonl): ``id, messages, description, constraints, input,
constraints_splits, levels2``; the user turn is description + constraints + input, one sentence
per constraint in ``constraints_splits`` and its TRACE dimension (Chinese label) in ``levels2``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from followkit.backends.base import Backend
from followkit.constraints.taxonomy import dimension
from followkit.core.errors import FollowkitError, InputError
from followkit.core.io import iter_jsonl, require
from followkit.core.stats import Metric, accuracy, mean_metric
from followkit.evaluate.base import Benchmark, Breakdowns, EvalItem
from followkit.judges.trace import JudgeRequest, if_metrics, judge

UNKNOWN_DIMENSION = "other"
"""Policy: a `levels2` label outside TRACE's 26 dimensions (the eval set has '输入格式约束' and '·')
is kept as type and dimension 'other' rather than rejected: the constraint is still judged."""


def _dimension(label: str) -> tuple[str, str]:
    try:
        d = dimension(label)
    except KeyError:
        return UNKNOWN_DIMENSION, UNKNOWN_DIMENSION
    return d.key, d.type


def trace_items(path: str) -> list[EvalItem]:
    """EvalItems from a TRACE-format JSONL file."""
    items: list[EvalItem] = []
    seen: set[str] = set()
    for line, rec in iter_jsonl(path):
        rid = str(require(rec, "id", (str, int), path, line))
        splits = require(rec, "constraints_splits", list, path, line)
        if not splits or not all(isinstance(s, str) and s.strip() for s in splits):
            raise InputError(
                "expected a non-empty list of constraint sentences", path, line, "constraints_splits"
            )
        labels = rec.get("levels2") or [UNKNOWN_DIMENSION] * len(splits)
        if not isinstance(labels, list) or len(labels) != len(splits):
            raise InputError(f"expected {len(splits)} labels, one per constraint", path, line, "levels2")
        if "messages" in rec:
            messages = require(rec, "messages", list, path, line)
            ok = all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)
            if not ok or not messages or messages[-1].get("role") != "user":
                raise InputError("expected chat messages ending with a user turn", path, line, "messages")
            messages = [{"role": m["role"], "content": m["content"]} for m in messages]
        else:  # rebuild the user turn the way TRACE lays it out
            desc = require(rec, "description", str, path, line)
            cons = rec.get("constraints")
            cons_text = cons if isinstance(cons, str) else "\n".join(splits)
            inp = rec.get("input") or "NULL"
            messages = [
                {
                    "role": "user",
                    "content": f"{desc}\n{cons_text}\n" + ("" if inp == "NULL" else f"# Inputs:\n{inp}\n"),
                }
            ]
        if rid in seen:
            raise InputError(f"duplicate id {rid}", path, line, "id")
        seen.add(rid)
        constraints = []
        for text, label in zip(splits, labels, strict=True):
            key, ttype = _dimension(str(label))
            constraints.append(
                {"id": f"trace:{key}", "text": text, "dimension": key, "type": ttype, "label": label}
            )
        meta = {"n_constraints": len(splits)}
        if "category" in rec:
            meta["category"] = rec["category"]
        items.append(EvalItem(id=rid, messages=messages, constraints=constraints, meta=meta))
    if not items:
        raise InputError("no items", path=path)
    return items


class TraceBenchmark(Benchmark):
    """TRACE: each constraint judged 0-10; followed only when all score 10; IF-S and IF-M."""

    name = "trace"
    needs_judge = True

    def __init__(self, judge_template: str | None = None):
        self.judge_template = judge_template

    def load(self, path: str | None = None) -> list[EvalItem]:
        if not path:
            raise InputError("trace reads a local file: --benchmark trace:PATH (TRACE's JSONL format)")
        return trace_items(path)

    def score(
        self, items: list[EvalItem], responses: list[str], judge_backend: Backend | None = None
    ) -> list[dict[str, Any]]:
        if judge_backend is None:
            raise FollowkitError("trace is scored by an LLM judge: pass --judge MODEL")
        requests = [
            JudgeRequest(render_query(it), [c["text"] for c in it.constraints], r)
            for it, r in zip(items, responses, strict=True)
        ]
        verdicts = judge(
            judge_backend,
            requests,
            template=self.judge_template,
            reasoning=self.reasoning,  # type: ignore[arg-type]
            reasoning_markers=self.reasoning_markers,
        )
        out = []
        for it, v in zip(items, verdicts, strict=True):
            if not v.raw:  # the judge call itself failed: a failed item, retried on rerun, not a verdict
                out.append({"error": f"judge: {v.error}"})
                continue
            constraints = [{**c, "score": s} for c, s in zip(it.constraints, v.scores, strict=True)]
            out.append(
                {
                    "prompt": it.messages[-1]["content"],
                    "constraints": constraints,
                    "verdicts": {"strict": [s == 10 for s in v.scores]},
                    "followed": {"strict": v.followed},
                    "judge": {"overall": v.overall, "error": v.error, "raw": v.raw},
                    "meta": it.meta,
                }
            )
        return out

    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        m = if_metrics([s["followed"]["strict"] for s in samples], [len(s["constraints"]) for s in samples])
        m["constraint_acc"] = accuracy([v for s in samples for v in s["verdicts"]["strict"]])
        m["overall_score"] = mean_metric(
            [s["judge"]["overall"] for s in samples if s["judge"]["overall"] is not None]
        )
        m["judge_unparsable_rate"] = mean_metric(
            [1.0 if s["followed"]["strict"] is None else 0.0 for s in samples]
        )
        return m

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        by_type: dict[str, list[bool]] = defaultdict(list)
        by_dim: dict[str, list[bool]] = defaultdict(list)
        by_k: dict[int, list[bool | None]] = defaultdict(list)
        for s in samples:
            by_k[len(s["constraints"])].append(s["followed"]["strict"])
            for c, v in zip(s["constraints"], s["verdicts"]["strict"], strict=True):
                by_type[c["type"]].append(v)
                by_dim[c["dimension"]].append(v)
        return {
            "constraint-level accuracy (score 10) by TRACE type": {
                k: {"judged": accuracy(v)} for k, v in sorted(by_type.items())
            },
            "constraint-level accuracy (score 10) by TRACE dimension": {
                k: {"judged": accuracy(v)} for k, v in sorted(by_dim.items())
            },
            "accuracy by number of constraints": {
                str(k): {"judged": accuracy(v)} for k, v in sorted(by_k.items())
            },
        }


def render_query(item: EvalItem) -> str:
    """The query the judge sees: the user turn as the model saw it."""
    return item.messages[-1]["content"]
