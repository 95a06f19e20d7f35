"""InFoBench (Qin et al. 2024, arXiv 2401.03601): instructions decomposed into yes/no questions; DRFR.

Data (qinyiwei/InfoBench, the published JSONL): one record per instruction,
``{"id", "instruction", "input", "category", "subset": "Easy_set"|"Hard_set",
"decomposed_questions": [str], "question_label": [[label, ...]]}``.

The model is asked ``f"{instruction}\\n\\n{input}\\n"`` (the authors' generation script). A judge
answers every question YES (1) or NO (0) for the response, through the checklist judge
(followkit.evaluate.checklist: the response tagged as untrusted data, a hash marker before the
verdict, one retry on an unparsable verdict).

Metric: DRFR = questions answered YES / all questions, over the whole file and per subset (a
micro-average over questions, as the authors' ``bool_ratio``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

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

ALL_QUESTIONS_ONE_REQUEST = True
"""The judge answers all of an instruction's questions in one request, numbered, ending with
``Checklist Scores: {"1": 0|1, ...}`` (the checklist judge). The authors (gpt-4-0314, temperature 0)
ask one question per turn of one conversation, the output quoted in plain double quotes after their
system rules, and read each reply by its first word YES/NO."""

UNPARSABLE_QUESTIONS_ARE_NO = True
"""Policy: when the judge's verdict cannot be read after one retry, every question of that
instruction counts as NO and the instruction is counted in judge_unparsable_rate. (The authors stop
asking at the first reply without a clear YES/NO, record it as None, which counts as NO, and leave
the questions after it out of the denominator.)"""

SUBSETS = {"Easy_set": "easy", "Hard_set": "hard"}


def prompt_text(instruction: str, task_input: str) -> str:
    """The model's prompt, laid out as the authors' generation script does."""
    return f"{instruction}\n\n{task_input}\n"


def infobench_items(path: str) -> list[EvalItem]:
    """EvalItems from InFoBench's published JSONL (or a JSON array with the same fields)."""
    items: list[EvalItem] = []
    for rid, rec, bad in checked_records(path, "InFoBench data", "id"):
        if not isinstance(rec.get("instruction"), str) or not rec["instruction"].strip():
            raise bad("missing or empty", "instruction")
        task_input = rec.get("input") or ""
        if not isinstance(task_input, str):
            raise bad("not a string", "input")
        questions = rec.get("decomposed_questions")
        if not isinstance(questions, list) or not questions or not all(isinstance(q, str) for q in questions):
            raise bad("expected a non-empty list of strings", "decomposed_questions")
        labels = rec.get("question_label") or [[] for _ in questions]
        if not isinstance(labels, list) or len(labels) != len(questions):
            raise bad(f"expected {len(questions)} label lists, one per question", "question_label")
        subset = rec.get("subset", "?")
        constraints = [
            {
                "id": "infobench:question",
                "text": q.strip(),
                "labels": [str(x) for x in (lab if isinstance(lab, list) else [lab])],
            }
            for q, lab in zip(questions, labels, strict=True)
        ]
        items.append(
            EvalItem(
                id=rid,
                messages=[{"role": "user", "content": prompt_text(rec["instruction"], task_input)}],
                constraints=constraints,
                meta={
                    "subset": SUBSETS.get(subset, str(subset)),
                    "category": str(rec.get("category", "?")),
                    "instruction": rec["instruction"],
                    "input": task_input,
                },
            )
        )
    if not items:
        raise InputError("no items", path=path)
    return items


class InFoBenchBenchmark(Benchmark):
    """InFoBench: decomposed yes/no questions answered by a judge; DRFR overall and per subset."""

    name = "infobench"
    needs_judge = True

    def __init__(self, judge_template: str | None = None):
        self.judge_template = judge_template

    def load(self, path: str | None = None) -> list[EvalItem]:
        if not path:
            raise InputError("infobench reads a local file: --benchmark infobench:PATH (the published JSONL)")
        return infobench_items(path)

    def score(
        self, items: list[EvalItem], responses: list[str], judge_backend: Backend | None = None
    ) -> list[dict[str, Any]]:
        if judge_backend is None:
            raise FollowkitError("infobench is scored by an LLM judge: pass --judge MODEL")
        template = checklist_template(self.judge_template, "infobench_judge")
        requests = [
            ChecklistRequest(
                query=it.meta["instruction"],
                items=[c["text"] for c in it.constraints],
                response=r,
                keys=list(range(1, len(it.constraints) + 1)),
                reference=it.meta["input"],
            )
            for it, r in zip(items, responses, strict=True)
        ]
        out = []
        for it, v in zip(items, judge_checklists(judge_backend, requests, template), strict=True):
            if not v.raw:  # the judge call failed: retried on rerun
                out.append({"error": f"judge: {v.error}"})
                continue
            yes = [s == 1 for s in v.scores]  # UNPARSABLE_QUESTIONS_ARE_NO
            out.append(
                {
                    "prompt": it.messages[-1]["content"],
                    "constraints": [
                        {**c, "answer": s} for c, s in zip(it.constraints, v.scores, strict=True)
                    ],
                    "verdicts": {"strict": yes},
                    "followed": {"strict": all(yes)},
                    "judge": {"error": v.error, "raw": v.raw},
                    "meta": it.meta,
                }
            )
        return out

    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        m = {"drfr": accuracy([v for s in samples for v in s["verdicts"]["strict"]])}
        by_subset: dict[str, list[bool]] = defaultdict(list)
        for s in samples:
            by_subset[s["meta"]["subset"]] += s["verdicts"]["strict"]
        for subset, yes in sorted(by_subset.items()):
            m[f"drfr_{subset}"] = accuracy(yes)
        m["all_questions_yes"] = accuracy([s["followed"]["strict"] for s in samples])
        m["judge_unparsable_rate"] = mean_metric([1.0 if s["judge"]["error"] else 0.0 for s in samples])
        return m

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        by_subset: dict[str, list[bool]] = defaultdict(list)
        by_label: dict[str, list[bool]] = defaultdict(list)
        for s in samples:
            for c, v in zip(s["constraints"], s["verdicts"]["strict"], strict=True):
                by_subset[s["meta"]["subset"]].append(v)
                for label in c.get("labels") or ["?"]:
                    by_label[label].append(v)
        return {
            "DRFR by subset": {k: {"drfr": accuracy(v)} for k, v in sorted(by_subset.items())},
            "DRFR by question label": {k: {"drfr": accuracy(v)} for k, v in sorted(by_label.items())},
        }
