"""KCIF as a followkit benchmark: each knowledge item asked plainly and under KCIF instructions.

`--benchmark kcif` uses the built-in items; `kcif:PATH` a generic KCIF JSONL file; `kcif:SOURCE`
(mmlu_pro, mathqa, boolq, piqa, winogrande) the paper's sources from the Hugging Face Hub, and
`kcif:SOURCE@FILE` a local copy of one in its own format.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Any

from followkit.backends.base import Backend
from followkit.core.stats import Metric, mean_metric
from followkit.evaluate.base import Benchmark, EvalItem
from followkit.kcif.instructions import INSTRUCTIONS, KCIFInstruction, build_prompt
from followkit.kcif.items import KCIFItem, item_from_record, resolve_items
from followkit.kcif.normalize import normalize, parse_response, postprocess
from followkit.kcif.scoring import classify_error, expected_output, is_correct_loose, kcif_metrics

INSTRUCTIONS_PER_ITEM = 2
"""How many instructions each item is asked under (besides once plainly)."""


def assign_instructions(items: list[KCIFItem], per_item: int, seed: int) -> tuple[list[list[str]], Counter]:
    """Instruction ids for each item, balanced over types, deterministic for a seed; and the count of
    (item, instruction) pairs skipped because the instruction does not apply to the item."""
    used: Counter = Counter({iid: 0 for iid in INSTRUCTIONS})
    skipped: Counter = Counter()
    out = []
    for item in items:
        applicable = []
        for iid, ins in INSTRUCTIONS.items():
            if ins.applies(item):
                applicable.append(iid)
            else:
                skipped[iid] += 1
        rng = random.Random(f"{seed}:{item.id}")
        rng.shuffle(applicable)
        # The least-used types first, so every type gets its share; ties keep the seeded shuffle.
        chosen = sorted(applicable, key=lambda i: used[i])[:per_item]
        for iid in chosen:
            used[iid] += 1
        out.append(chosen)
    return out, skipped


def _eval_item(item: KCIFItem, ins: KCIFInstruction | None) -> EvalItem:
    suffix = ins.id if ins is not None else "plain"
    meta: dict[str, Any] = {
        "kcif_item": item.to_dict(),
        "instruction": ins.id if ins is not None else None,
        "expected": expected_output(item, ins),
    }
    if ins is None:  # the counted skips travel with the item's plain sample
        meta["not_applicable"] = [
            i.id for i in INSTRUCTIONS.values() if not i.distractor and not i.applies(item)
        ]
    return EvalItem(
        id=f"{item.id}::{suffix}",
        messages=[{"role": "user", "content": build_prompt(item, ins)}],
        meta=meta,
    )


class KCIFBenchmark(Benchmark):
    """Knowledge-conditioned instruction following: exact match of code-computed expected outputs."""

    name = "kcif"
    needs_judge = False

    def __init__(self, seed: int = 0, per_item: int = INSTRUCTIONS_PER_ITEM):
        self.seed = seed
        self.per_item = per_item
        self.skipped: Counter = Counter()

    def load(self, path: str | None = None) -> list[EvalItem]:
        items = resolve_items(path)
        assigned, self.skipped = assign_instructions(items, self.per_item, self.seed)
        out: list[EvalItem] = []
        for item, iids in zip(items, assigned, strict=True):
            out.append(_eval_item(item, None))
            out.extend(_eval_item(item, INSTRUCTIONS[iid]) for iid in iids)
        return out

    def score(
        self, items: list[EvalItem], responses: list[str], judge: Backend | None = None
    ) -> list[dict[str, Any]]:
        out = []
        for ev, response in zip(items, responses, strict=True):
            item = item_from_record(ev.meta["kcif_item"], "<kcif item>", 0, default_id=ev.id)
            iid = ev.meta["instruction"]
            ins = INSTRUCTIONS[iid] if iid is not None else None
            error = classify_error(item, ins, response)
            error_strict = classify_error(item, ins, response, strict=True)
            expected = expected_output(item, ins)
            out.append(
                {
                    "prompt": ev.messages[-1]["content"],
                    "item_id": item.id,
                    "task": item.task,
                    "language": item.language,
                    "instruction": iid,
                    "category": ins.group if ins is not None else None,  # KCIF's category
                    "category_strict": ins.category if ins is not None else None,
                    "distractor": bool(ins is not None and ins.distractor),
                    "expected": expected,
                    # KCIF's reading of both sides (the match also ignores whitespace)
                    "normalized_response": parse_response(response),
                    "normalized_expected": postprocess(expected),
                    "normalized_response_strict": normalize(response),
                    "normalized_expected_strict": normalize(expected),
                    "correct": error is None,
                    "correct_strict": error_strict is None,
                    "correct_loose": is_correct_loose(item, ins, response),
                    "error_type": error,  # not "error": the runner reads that as a failed scoring
                    "error_type_strict": error_strict,
                    **({"not_applicable": ev.meta["not_applicable"]} if "not_applicable" in ev.meta else {}),
                }
            )
        return out

    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        out = {k: v for k, v in kcif_metrics(samples).items() if "/" not in k}
        n_types = sum(1 for i in INSTRUCTIONS.values() if not i.distractor)
        plain = [s for s in samples if s["instruction"] is None and "not_applicable" in s]
        # share of (item, instruction) pairs skipped because the instruction does not apply
        out["skipped_pair_rate"] = mean_metric(
            [1.0] * sum(len(s["not_applicable"]) for s in plain)
            + [0.0] * sum(n_types - len(s["not_applicable"]) for s in plain)
        )
        return out

    def breakdowns(self, samples: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Metric]]]:
        """Exact match by instruction category, knowledge task, instruction and language; error types."""
        m = kcif_metrics(samples)
        names = {
            "category": "by instruction category",
            "task": "by knowledge task",
            "instruction": "by instruction",
            "category_strict": "by instruction category (strict reading)",
            "task_strict": "by knowledge task (strict reading)",
        }
        tables: dict[str, dict[str, dict[str, Metric]]] = {f"exact match {v}": {} for v in names.values()}
        for key, metric in m.items():
            prefix, sep, rest = key.partition("/")
            if sep:
                tables[f"exact match {names[prefix]}"][rest] = {"exact_match": metric}
        by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in samples:
            by_lang[s["language"]].append(s)
        tables["by language"] = {
            lang: {
                "knowledge_accuracy": mean_metric(
                    [float(s["correct"]) for s in rows if s["instruction"] is None]
                ),
                "exact_match": mean_metric(
                    [
                        float(s["correct"])
                        for s in rows
                        if s["instruction"] is not None and not s["distractor"]
                    ]
                ),
            }
            for lang, rows in sorted(by_lang.items())
        }
        skipped: Counter = Counter()
        plain = [s for s in samples if s["instruction"] is None and "not_applicable" in s]
        for s in plain:
            skipped.update(s["not_applicable"])
        tables["items an instruction does not apply to (counted skips)"] = {
            iid: {"share_of_items": mean_metric([1.0] * skipped[iid] + [0.0] * (len(plain) - skipped[iid]))}
            for iid, ins in INSTRUCTIONS.items()
            if not ins.distractor and skipped[iid]
        }
        return tables
