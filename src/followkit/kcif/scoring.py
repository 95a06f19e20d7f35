"""KCIF scoring: exact match as KCIF's scorer reads it, error classification, and the paper's metrics.

The default metrics reproduce IBM/KCIF's evaluation code: its parsing and postprocessing
(`normalize.parse_response`, `normalize.postprocess`), its categories, print rows scored on their
own, KTS over parent datasets. followkit's earlier, stricter reading (its own normaliser, its own
categories, print rows inside EM) is reported beside them under `*_strict` names.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

from followkit.core.stats import Metric, mean_metric
from followkit.kcif.instructions import (
    CATEGORIES,
    INSTRUCTIONS,
    KCIF_CATEGORIES,
    LIST,
    PRINT_GROUPS,
    KCIFInstruction,
)
from followkit.kcif.items import KCIFItem
from followkit.kcif.normalize import normalize, parse_response, postprocess, same

KNOWLEDGE, INSTRUCTION, OTHER = "knowledge", "instruction", "other"

PLAIN_ACCEPTS_LABEL = True
"""Policy: without an instruction, the label of the correct option (e.g. 'B') also counts as a correct
answer; the plain prompt asks for the option's text, but knowledge accuracy should not punish the format.
(KCIF's print_correct_answer accepts the text only: a row of the deviations table.)"""

LIST_OPS_UNSCORED_TASKS = ("boolq", "piqa", "winogrande")
"""KCIF drops 'Operations on List' rows on these datasets from every score (two fixed options)."""

ERROR_CLASSES_BY_OPERATION = True
"""Policy: errors are classed by exact match with operations on the options (`classify_error`), not by
KCIF's candidate sets with a Levenshtein tolerance; the class names differ too (knowledge, not reasoning)."""


LOOSE_PREFIX = re.compile(
    r"^\s*(?:(?:the\s+)?(?:correct\s+|final\s+)?answer(?:\s+is)?|(?:正确)?答案(?:是|为)?|result(?:\s+is)?|output)\s*[:：]?\s*",
    re.IGNORECASE,
)
LOOSE_LABEL = re.compile(r"^\s*(?:\(([A-Z])\)|([A-Z])[.)．:：])\s+(?=\S)")
"""Loose scoring (like IFEval's loose mode, reported beside the strict one, never instead of it): also try
the first line of the response, without an 'The answer is:' / '答案是' prefix and without a leading option
label ('B. '). The headline metrics stay strict, as in the paper."""


def answer_candidates(response: str) -> list[str]:
    """Normalised readings of a response: strict first, then the loose ones (first line, prefix, label)."""
    out = [normalize(response)]
    lines = [ln for ln in response.strip().splitlines() if ln.strip()]
    bases = [response.strip()] + ([lines[0]] if len(lines) > 1 else [])
    for b in bases:
        for text in (b, LOOSE_PREFIX.sub("", b, count=1)):
            for t in (text, LOOSE_LABEL.sub("", text, count=1)):
                n = normalize(t)
                if n and n not in out:
                    out.append(n)
    return out


def expected_output(item: KCIFItem, instruction: KCIFInstruction | None) -> str:
    """The expected output: the instruction's, or the correct option's text for the plain question."""
    return item.answer if instruction is None else instruction.expected(item)


def _expected_texts(item: KCIFItem, instruction: KCIFInstruction | None) -> list[str]:
    if instruction is None:
        return [item.answer] + ([item.label] if PLAIN_ACCEPTS_LABEL else [])
    return [instruction.expected(item)]


def _targets(item: KCIFItem, instruction: KCIFInstruction | None) -> set[str]:
    return {normalize(t) for t in _expected_texts(item, instruction)}


def is_correct(item: KCIFItem, instruction: KCIFInstruction | None, response: str) -> bool:
    """KCIF's exact match: the parsed response equals the postprocessed expected output (or does so
    once all whitespace is removed)."""
    prediction = parse_response(response)
    return any(same(prediction, postprocess(t)) for t in _expected_texts(item, instruction))


def is_correct_strict(item: KCIFItem, instruction: KCIFInstruction | None, response: str) -> bool:
    """The strict reading: the whole normalised response equals the normalised expected output."""
    return normalize(response) in _targets(item, instruction)


def is_correct_loose(item: KCIFItem, instruction: KCIFInstruction | None, response: str) -> bool:
    """Exact match of any loose reading of the response (see LOOSE_PREFIX)."""
    return bool(set(answer_candidates(response)) & _targets(item, instruction))


def classify_error(
    item: KCIFItem, instruction: KCIFInstruction | None, response: str, strict: bool = False
) -> str | None:
    """None if correct (KCIF's match, or the strict reading's with `strict`); else 'knowledge' (the
    right operation applied to a wrong option), 'instruction' (the right option, with the operation
    not applied or another one applied, or the right output wrapped in more than was asked for) or
    'other'. Loose readings of the response are tried, so 'The answer is B. Boston' shows a knowledge
    error rather than 'other'."""
    if (is_correct_strict if strict else is_correct)(item, instruction, response):
        return None
    if is_correct_loose(item, instruction, response) or (
        not strict and is_correct_strict(item, instruction, response)
    ):
        return INSTRUCTION  # right output, wrapped in more than was asked for
    cands = answer_candidates(response)
    if not strict:
        cands.append(normalize(parse_response(response)))
    # Knowledge: the same operation on an item where a wrong option were correct.
    if instruction is None or instruction.depends_on != "options":
        for opt in item.incorrect:
            alt = item.with_answer(opt)
            outs = [opt, alt.label] if instruction is None else [instruction.expected_unchecked(alt)]
            if any(o is not None and normalize(o) in cands for o in outs):
                return KNOWLEDGE
    if instruction is None:
        return OTHER
    # Instruction: the right option as is (text or label), or another operation applied to it.
    expected = normalize(instruction.expected(item))
    # Only operations on the right answer count, and no output that is itself a wrong option
    # (incrementing 19 gives 20, which may be an option: that reading is not the right option).
    candidates = {item.answer, item.label}
    candidates.update(
        o
        for ins in INSTRUCTIONS.values()
        if ins.depends_on == "answer" and (o := ins.operation(item)) is not None
    )
    wrong = {normalize(o) for o in item.incorrect}
    if ({normalize(c) for c in candidates} - {expected} - wrong) & set(cands):
        return INSTRUCTION
    return OTHER


def _combine(parts: list[Metric]) -> Metric:
    """Mean of independent metrics; its standard error is sqrt(sum of squared errors) / k."""
    parts = [p for p in parts if p.n > 0]
    if not parts:
        return Metric(float("nan"), float("nan"), 0)
    k = len(parts)
    value = sum(p.value for p in parts) / k
    stderr = math.sqrt(sum(p.stderr**2 for p in parts)) / k
    return Metric(value, stderr, sum(p.n for p in parts))


def parent_task(task: str) -> str:
    """The knowledge task KCIF averages over: 'mmlu_pro:law' -> 'mmlu_pro' (KCIF's parent dataset)."""
    return task.partition(":")[0]


def kcif_scored(sample: dict[str, Any]) -> bool:
    """False for the rows KCIF's scorer drops (see LIST_OPS_UNSCORED_TASKS)."""
    return not (sample["category"] == LIST and parent_task(sample["task"]) in LIST_OPS_UNSCORED_TASKS)


def _em(rows: list[dict[str, Any]], key: str) -> Metric:
    return mean_metric([1.0 if s[key] else 0.0 for s in rows])


def _headline(
    plain: list, instr: list, distr: list, cat_of, task_of, categories, key: str, err: str, sfx: str
) -> dict[str, Metric]:
    """EM, IC, KTS, distractor EM, their average, knowledge accuracy, EM on known items, error rates;
    and the per-category and per-task metrics, under `category{sfx}/` and `task{sfx}/`."""
    out: dict[str, Metric] = {}
    out[f"exact_match{sfx}"] = _em(instr, key)
    by_cat: dict[str, list] = defaultdict(list)
    by_task: dict[str, list] = defaultdict(list)
    for s in instr:
        by_cat[cat_of(s)].append(s)
        by_task[task_of(s)].append(s)
    cat_metrics = {c: _em(by_cat[c], key) for c in categories if by_cat.get(c)}
    task_metrics = {t: _em(rows, key) for t, rows in sorted(by_task.items())}
    out[f"ic_score{sfx}"] = _combine(list(cat_metrics.values()))
    out[f"kts_score{sfx}"] = _combine(list(task_metrics.values()))
    out[f"distractor_exact_match{sfx}"] = _em(distr, key)
    out[f"average{sfx}"] = _combine(
        [out[f"{m}{sfx}"] for m in ("exact_match", "ic_score", "kts_score", "distractor_exact_match")]
    )
    out[f"knowledge_accuracy{sfx}"] = _em(plain, key)
    known = {s["item_id"] for s in plain if s[key]}
    out[f"exact_match_known_items{sfx}"] = _em([s for s in instr if s["item_id"] in known], key)
    followed = instr + distr
    for kind in (KNOWLEDGE, INSTRUCTION, OTHER):
        out[f"error_{kind}{sfx}"] = mean_metric([1.0 if s[err] == kind else 0.0 for s in followed])
    for c, m in cat_metrics.items():
        out[f"category{sfx}/{c}"] = m
    for t, m in task_metrics.items():
        out[f"task{sfx}/{t}"] = m
    return out


def _from_before_strict(s: dict[str, Any]) -> dict[str, Any]:
    """A sample written before the strict fields: its category was followkit's own; its verdicts
    stand for both readings (they cannot be redone without the response's item)."""
    ins = INSTRUCTIONS.get(s["instruction"]) if s["instruction"] is not None else None
    return {
        **s,
        "category": ins.group if ins is not None else s["category"],
        "category_strict": s["category"],
        "correct_strict": s.get("correct_strict", s["correct"]),
        "error_type_strict": s.get("error_type_strict", s["error_type"]),
    }


def kcif_metrics(samples: list[dict[str, Any]]) -> dict[str, Metric]:
    """KCIF's metrics as its scorer computes them: micro EM over the instruction rows (print rows
    apart), IC (mean over KCIF's categories), KTS (mean over parent tasks), distractor EM, their
    average; print_answer / print_label EM; knowledge accuracy without instructions, EM on items known
    without instructions, error rates. The same under `*_strict` for the strict reading, and
    followkit's loose readings under `*_loose`."""
    rows = [s if "category_strict" in s else _from_before_strict(s) for s in samples]
    plain = [s for s in rows if s["instruction"] is None]
    distr_all = [s for s in rows if s["distractor"]]
    instr_all = [s for s in rows if s["instruction"] is not None and not s["distractor"]]
    scored = [s for s in instr_all if kcif_scored(s)]
    prints = {g: [s for s in scored if s["category"] == g] for g in PRINT_GROUPS}
    instr = [s for s in scored if s["category"] not in PRINT_GROUPS]
    distr = [s for s in distr_all if kcif_scored(s)]

    out = _headline(
        plain, instr, distr, lambda s: s["category"], lambda s: parent_task(s["task"]),
        KCIF_CATEGORIES, "correct", "error_type", "",
    )  # fmt: skip
    out["print_answer_exact_match"] = _em(prints[PRINT_GROUPS[0]], "correct")
    out["print_label_exact_match"] = _em(prints[PRINT_GROUPS[1]], "correct")
    strict = _headline(
        plain, instr_all, distr_all, lambda s: s["category_strict"], lambda s: s["task"],
        CATEGORIES, "correct_strict", "error_type_strict", "_strict",
    )  # fmt: skip
    out.update({k: v for k, v in strict.items() if "/" not in k})
    loose = lambda rows: mean_metric([1.0 if s.get("correct_loose", s["correct"]) else 0.0 for s in rows])  # noqa: E731
    out["exact_match_loose"] = loose(instr_all)
    out["distractor_exact_match_loose"] = loose(distr_all)
    out["knowledge_accuracy_loose"] = loose(plain)
    for g, rows_g in prints.items():
        if rows_g:
            out[f"category/{g}"] = _em(rows_g, "correct")
    out.update({k: v for k, v in strict.items() if "/" in k})
    by_iid: dict[str, list] = defaultdict(list)
    for s in scored + distr:
        by_iid[s["instruction"]].append(s)
    for iid, rows_i in sorted(by_iid.items()):
        out[f"instruction/{iid}"] = _em(rows_i, "correct")
    return out
