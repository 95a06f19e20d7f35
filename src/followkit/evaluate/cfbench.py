"""CFBench (Zhang et al. 2024, arXiv 2408.01122): Chinese instructions with a judged checklist per item.

Data (PKU-Baichuan-MLSystemLab/CFBench, ``data/cfbench_data.json``): a JSON array of
``{"idx", "prompt", "gold", "split": "easy"|"hard", "doamin", "scenario", "criteria"}``, each
criterion ``[text, priority ("主需" primary | "次需" secondary), type, subtype]``.

Scoring as the authors' ``code/evalaute.py``: a judge scores every checklist point 0 or 1; per item
CSR = mean of the scores rounded to 2 decimals, ISR = 1 when CSR is 1, PSR = 0 when a primary point
fails, else 1 when every point is primary, CSR > 0.8 when none is, and 0.5 + 0.5 * (secondary mean,
rounded to 2 decimals) > 0.8 otherwise. Benchmark CSR/ISR/PSR are means over items (also per split).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from followkit.backends.base import Backend
from followkit.core.errors import FollowkitError, InputError
from followkit.core.stats import Metric, accuracy, mean_metric
from followkit.evaluate.base import Benchmark, Breakdowns, EvalItem
from followkit.evaluate.checklist import (
    ChecklistRequest,
    checked_records,
    checklist_template,
    judge_checklists,
)

PRIMARY, SECONDARY = "主需", "次需"

UNPARSABLE_SCORES_ZERO = True
"""Policy: a judge verdict that cannot be parsed after one retry scores CSR = ISR = PSR = 0 and is
counted in judge_unparsable_rate (the authors retry up to 10 times, then read any 'text<TAB>1' lines
leniently, and score 0 only when none is found)."""

MEANS_UNROUNDED = True
"""Benchmark CSR / ISR / PSR are reported unrounded with standard errors (the authors print them
rounded to 2 decimals); per-item CSR is rounded to 2 decimals as the authors do."""

PSR_THRESHOLD = 0.8
"""CFBench's PSR pass mark: CSR (no primary point) or 0.5 + 0.5 * secondary mean must exceed it."""


def _round2(x: float) -> float:
    return float(np.round(x, 2))  # numpy's rounding, as the authors' round(np.mean(...), 2)


def item_scores(scores: list[int] | None, priorities: list[str]) -> dict[str, float]:
    """CSR, ISR, PSR of one item from its 0/1 point scores (None: the verdict was unparsable)."""
    if scores is None:
        return {"csr": 0.0, "isr": 0.0, "psr": 0.0}
    csr = _round2(float(np.mean(scores)))
    isr = 0.0 if csr < 1 else 1.0
    primary = [s for s, p in zip(scores, priorities, strict=True) if p == PRIMARY]
    secondary = [s for s, p in zip(scores, priorities, strict=True) if p == SECONDARY]
    if 0 in primary:
        psr = 0.0
    elif not primary:
        psr = 1.0 if csr > PSR_THRESHOLD else 0.0
    elif not secondary:
        psr = 1.0
    else:
        psr = 1.0 if 0.5 + 0.5 * _round2(float(np.mean(secondary))) > PSR_THRESHOLD else 0.0
    return {"csr": csr, "isr": isr, "psr": psr}


EMPTY_PROMPT_ASKED = True
"""Policy: a row with an empty prompt (the published file has one, idx 810) is kept and scored as the
authors' evaluation loop would: the model is sent the empty prompt and the judge scores the answer
against the row's criteria. The file is read whole; followkit does not drop or refuse the row."""


def cfbench_items(path: str) -> list[EvalItem]:
    """EvalItems from CFBench's published JSON (or JSONL with the same fields)."""
    items: list[EvalItem] = []
    for rid, rec, bad in checked_records(path, "CFBench data", "idx"):
        if not isinstance(rec.get("prompt"), str):  # an empty prompt is asked as it is (EMPTY_PROMPT_ASKED)
            raise bad("missing or not a string", "prompt")
        criteria = rec.get("criteria")
        if not isinstance(criteria, list) or not criteria:
            raise bad("expected a non-empty list of [text, priority, type, subtype]", "criteria")
        constraints = []
        for c in criteria:
            if not isinstance(c, list) or len(c) < 2 or not all(isinstance(x, str) for x in c):
                raise bad(f"expected [text, priority, type, subtype], got {c!r}", "criteria")
            if c[1] not in (PRIMARY, SECONDARY):
                raise bad(f"priority must be {PRIMARY} or {SECONDARY}, got {c[1]!r}", "criteria")
            ctype = c[2] if len(c) > 2 else "other"
            constraints.append(
                {
                    "id": f"cfbench:{ctype}",
                    "text": c[0].strip(),
                    "priority": c[1],
                    "type": ctype,
                    "subtype": c[3] if len(c) > 3 else ctype,
                }
            )
        gold = rec.get("gold") or ""
        meta = {
            "split": rec.get("split", "?"),
            "domain": rec.get("doamin", rec.get("domain", "?")),  # the published field name is 'doamin'
            "scenario": rec.get("scenario", "?"),
            "gold": gold if isinstance(gold, str) else str(gold),
        }
        items.append(
            EvalItem(
                id=rid,
                messages=[{"role": "user", "content": rec["prompt"]}],
                constraints=constraints,
                meta=meta,
            )
        )
    if not items:
        raise InputError("no items", path=path)
    return items


class CFBenchBenchmark(Benchmark):
    """CFBench: checklist points judged 0/1; CSR, ISR and PSR."""

    name = "cfbench"
    needs_judge = True

    def __init__(self, judge_template: str | None = None):
        self.judge_template = judge_template

    def load(self, path: str | None = None) -> list[EvalItem]:
        if not path:
            raise InputError("cfbench reads a local file: --benchmark cfbench:PATH (cfbench_data.json)")
        return cfbench_items(path)

    def score(
        self, items: list[EvalItem], responses: list[str], judge_backend: Backend | None = None
    ) -> list[dict[str, Any]]:
        if judge_backend is None:
            raise FollowkitError("cfbench is scored by an LLM judge: pass --judge MODEL")
        template = checklist_template(self.judge_template, "cfbench_judge")
        requests = [
            ChecklistRequest(
                query=it.messages[-1]["content"],
                items=[c["text"] for c in it.constraints],
                response=r,
                keys=list(range(1, len(it.constraints) + 1)),
                reference=it.meta.get("gold", ""),
            )
            for it, r in zip(items, responses, strict=True)
        ]
        out = []
        for it, v in zip(items, judge_checklists(judge_backend, requests, template), strict=True):
            if not v.raw:  # the judge call failed: retried on rerun
                out.append({"error": f"judge: {v.error}"})
                continue
            scores = None if v.error else [int(s) for s in v.scores if s is not None]
            result = item_scores(scores, [c["priority"] for c in it.constraints])
            out.append(
                {
                    "prompt": it.messages[-1]["content"],
                    "constraints": [{**c, "score": s} for c, s in zip(it.constraints, v.scores, strict=True)],
                    "verdicts": {"strict": [s == 1 for s in v.scores]},
                    "followed": {"strict": result["isr"] == 1.0},
                    "cfbench": result,
                    "judge": {"error": v.error, "raw": v.raw},
                    "meta": it.meta,
                }
            )
        return out

    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        m = {k: mean_metric([s["cfbench"][k] for s in samples]) for k in ("csr", "isr", "psr")}
        m["judge_unparsable_rate"] = mean_metric([1.0 if s["judge"]["error"] else 0.0 for s in samples])
        return m

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        by_split: dict[str, list[dict[str, float]]] = defaultdict(list)
        by_type: dict[str, list[bool]] = defaultdict(list)
        by_priority: dict[str, list[bool]] = defaultdict(list)
        for s in samples:
            by_split[str(s["meta"].get("split", "?"))].append(s["cfbench"])
            for c, v in zip(s["constraints"], s["verdicts"]["strict"], strict=True):
                by_type[c["type"]].append(v)
                by_priority[c["priority"]].append(v)
        return {
            "CSR / ISR / PSR by split": {
                k: {m: mean_metric([r[m] for r in rows]) for m in ("csr", "isr", "psr")}
                for k, rows in sorted(by_split.items())
            },
            "checklist points met by constraint type": {
                k: {"judged": accuracy(v)} for k, v in sorted(by_type.items())
            },
            "checklist points met by priority": {
                k: {"judged": accuracy(v)} for k, v in sorted(by_priority.items())
            },
        }
