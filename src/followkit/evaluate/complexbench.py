"""ComplexBench (Wen et al. 2024, arXiv 2407.03978): instructions built by composing constraints.

Data (thu-coai/ComplexBench, ``data/data_final.json``): a JSON array of ``{"main_id", "group",
"idx_in_group", "instruction", "instruction_en", "task_types", "constraint_dimensions",
"composition_types", "category", "scoring_questions"}``; each scoring question is ``{"point_id",
"question", "question_en", "rule" (null: judged), "constraint_dimensions", "composition_types",
"dep" (point ids it depends on)}``. `complexbench` asks the Chinese instruction, `complexbench-en`
the English translation.

Scoring (rule-augmented, as the authors' evaluation/): a question with a rule that maps onto
followkit's checkers (see `map_rule`) is decided by those checkers on the whole response; every other
question is judged yes/no, one judge call per question. A question then counts as met only if it and
every question in its `dep` list were met (the authors' `get_rely_judgment`: direct dependencies,
raw verdicts). DRFR = met questions / all questions, overall and by composition category (the
category's first part: And, Chain, Selection), by composition signature (`nested_methods_drfr`),
by constraint type and dimension, and by task type; the Coherent Test for Selection groups.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from followkit.backends.base import Backend
from followkit.core.errors import FollowkitError, InputError
from followkit.core.stats import Metric, accuracy
from followkit.evaluate.base import Benchmark, Breakdowns, EvalItem
from followkit.evaluate.checklist import (
    ChecklistRequest,
    checked_records,
    checklist_template,
    judge_checklists,
)

CONSTRAINT_TYPES = {
    "Lexical": ("Word Matching", "Keywords"),
    "Structure": (
        "JSON Format",
        "Markdown Format",
        "Bullets Format",
        "Length",
        "Start with",
        "End with",
        "Punctuation",
        "Template",
    ),
    "Semantic": ("Language Style", "Personalization", "Topic", "Sentiment"),
    "Utility": ("Helpfulness", "Target Language", "Supportiveness", "Consistency", "Factuality"),
}
"""ComplexBench's four constraint types over its dimensions (aggregation.py; it spells Utility 'Utillity')."""

RULES_ON_WHOLE_RESPONSE = True
"""Policy: a rule that followkit maps is checked on the whole response. The authors first ask an LLM
to extract the part of the response the question is about ("all" for the whole), then apply the
rule to that part; rules about a part ('model_*', '*_each') go to the judge here instead."""

NESTED_MIN_TYPES = 2
"""`drfr_nested`: questions of instructions with at least this many distinct composition types (the
authors report each signature, e.g. And_Chain_Selection, in nested_methods_drfr, as followkit does)."""

RULE_MAP = {
    "keyword": "zh_keywords:include",
    "forbidden_word": "zh_keywords:exclude",
    "startswith": "zh_startend:starts_with",
    "endswith": "zh_startend:ends_with",
    "not endswith": "zh_startend:ends_with",
    "length": "zh_length:characters",
    "length_word": "zh_length:words",
    "Json": "trace_format:json",
}
"""The authors' rule names that followkit decides with its own checkers (casefolded substring matching,
no ASCII-to-full-width punctuation mapping; length counts non-whitespace characters, length_word
counts a CJK character or a Latin word as one; Json only without required keys). Other rules (match,
constraint_punc, Json with keys, model_*, *_each) go to the judge."""

FULL_TEXTS_TO_JUDGE = True
"""Policy: the judge sees the whole instruction and response (the authors cut them to 6,000 and
4,000 characters)."""

UNPARSABLE_IS_NOT_MET = True
"""Policy: a judge verdict that cannot be parsed after one retry counts as not met and is counted in
judge_unparsable_rate (the authors read 'yes' when the text holds 是 and no 否, else not met)."""


def constraint_type(dimension: str) -> str:
    """Lexical, Structure, Semantic, Utility or Others for a constraint dimension."""
    return next((t for t, dims in CONSTRAINT_TYPES.items() if dimension in dims), "Others")


@dataclass(frozen=True)
class MappedRule:
    """A ComplexBench rule as followkit checks: every clause must hold; a clause holds when any of its checks passes."""

    clauses: tuple[tuple[tuple[str, dict[str, Any]], ...], ...]
    negate: bool = False

    def check(self, response: str) -> bool:
        from followkit.constraints.verify import check_all

        ok = all(any(check_all(list(clause), response)) for clause in self.clauses)
        return not ok if self.negate else ok


def _word_list(value: str) -> list[str]:
    # As the authors parse it: "[a, b]" -> ["a", "b"] (no quoting), blanks dropped.
    return [w.strip() for w in value.strip().strip("[]").split(",") if w.strip()]


def _bounds(value: str) -> dict[str, int] | None:
    try:
        lo, hi = json.loads(value)
    except (ValueError, TypeError):
        return None
    if not (isinstance(lo, int) and isinstance(hi, int)) or lo > hi or lo < 0:
        return None
    return {"at_least": lo, "at_most": hi}


def _ends(phrase: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    # The authors accept the phrase with or without a final 。 or ？ after it.
    return tuple((RULE_MAP["endswith"], {"phrase": phrase + tail}) for tail in ("", "。", "？"))


_LINE = re.compile(
    r"^(not endswith|startswith|endswith|keyword|forbidden_word|length_word|length|Json):(.*)$"
)


def map_rule(rule: str | None) -> MappedRule | None:
    """followkit checks for a ComplexBench rule, or None when the question goes to the judge.

    Mapped: keyword -> zh_keywords:include, forbidden_word -> zh_keywords:exclude, startswith ->
    zh_startend:starts_with, (not) endswith -> zh_startend:ends_with, length -> zh_length:characters,
    length_word -> zh_length:words, Json with no keys -> trace_format:json. Rules about a part of the
    response (model_*, *_each), match, constraint_punc and Json with keys are judged.
    """
    if not rule or "model" in rule or "each" in rule:
        return None
    clauses = []
    negate = False
    lines = [ln for ln in rule.strip().split("\n") if ln.strip()]
    for ln in lines:
        m = _LINE.match(ln.strip())
        if m is None:
            return None
        name, value = m.group(1), m.group(2).strip()
        if name == "keyword" and _word_list(value):
            clauses.append(((RULE_MAP[name], {"keywords": _word_list(value)}),))
        elif name == "forbidden_word" and _word_list(value):
            clauses.append(((RULE_MAP[name], {"forbidden": _word_list(value)}),))
        elif name == "startswith" and value:
            clauses.append(((RULE_MAP[name], {"phrase": value}),))
        elif name == "endswith" and value:
            clauses.append(_ends(value))
        elif name == "not endswith" and value and len(lines) == 1:
            clauses.append(_ends(value))
            negate = True
        elif name in ("length", "length_word") and _bounds(value):
            clauses.append(((RULE_MAP[name], _bounds(value)),))
        elif name == "Json" and not _word_list(value.replace('"', "").replace("'", "")):
            clauses.append(((RULE_MAP[name], {}),))
        else:
            return None
    return MappedRule(tuple(clauses), negate) if clauses else None


def complexbench_items(path: str, lang: str = "zh") -> list[EvalItem]:
    """EvalItems from ComplexBench's published JSON (or JSONL with the same fields)."""
    suffix = "" if lang == "zh" else "_en"
    items: list[EvalItem] = []
    for rid, rec, bad in checked_records(path, "ComplexBench data_final.json", "main_id"):
        instruction = rec.get("instruction" + suffix)
        if not isinstance(instruction, str) or not instruction.strip():
            raise bad("missing or empty", "instruction" + suffix)
        questions = rec.get("scoring_questions")
        if not isinstance(questions, list) or not questions:
            raise bad("expected a non-empty list", "scoring_questions")
        points = []
        for i, q in enumerate(questions):
            text = q.get("question" + suffix) if isinstance(q, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise bad(f"question {i}: missing 'question{suffix}'", "scoring_questions")
            if q.get("point_id", i) != i:
                raise bad(
                    f"question {i} has point_id {q.get('point_id')}; expected 0, 1, ... in order",
                    "scoring_questions",
                )
            dep = q.get("dep") or []
            if not isinstance(dep, list) or not all(
                isinstance(d, int) and 0 <= d < len(questions) for d in dep
            ):
                raise bad(f"question {i}: dep must list point ids of this instruction", "scoring_questions")
            rule = q.get("rule")
            if rule is not None and not isinstance(rule, str):
                raise bad(f"question {i}: rule must be a string or null", "scoring_questions")
            points.append(
                {
                    "id": "complexbench:" + ("rule" if map_rule(rule) else "judge"),
                    "point_id": i,
                    "text": text.strip(),
                    "rule": rule,
                    "dep": dep,
                    "constraint_dimensions": list(q.get("constraint_dimensions") or []),
                    "composition_types": list(q.get("composition_types") or []),
                }
            )
        meta = {
            "category": str(rec.get("category") or "?"),
            "composition_types": list(rec.get("composition_types") or []),
            "task_types": str(rec.get("task_types") or "?"),
            "group": rec.get("group"),
        }
        items.append(
            EvalItem(
                id=rid, messages=[{"role": "user", "content": instruction}], constraints=points, meta=meta
            )
        )
    if not items:
        raise InputError("no items", path=path)
    return items


def rely(met: list[bool], deps: list[list[int]]) -> list[bool]:
    """A question counts as met only if it and each question it depends on were met (direct deps, raw verdicts)."""
    return [m and all(met[d] for d in dep) for m, dep in zip(met, deps, strict=True)]


def nested_method(composition_types: list[str]) -> str:
    """The composition signature, as the authors name it: sorted types joined by '_'."""
    return "_".join(sorted(composition_types))


class ComplexBenchBenchmark(Benchmark):
    """ComplexBench: rule-augmented judged scoring questions with dependencies; DRFR."""

    name = "complexbench"
    needs_judge = True
    language = "zh"

    def __init__(self, judge_template: str | None = None):
        self.judge_template = judge_template

    def load(self, path: str | None = None) -> list[EvalItem]:
        if not path:
            raise InputError(
                f"{self.name} reads a local file: --benchmark {self.name}:PATH (data_final.json)"
            )
        return complexbench_items(path, self.language)

    def score(
        self, items: list[EvalItem], responses: list[str], judge_backend: Backend | None = None
    ) -> list[dict[str, Any]]:
        template = checklist_template(self.judge_template, "complexbench_judge")
        requests: list[ChecklistRequest] = []
        where: list[tuple[int, int]] = []  # (item index, point index) of each judge request
        decided: list[list[bool | None]] = []
        for i, (it, r) in enumerate(zip(items, responses, strict=True)):
            row: list[bool | None] = []
            for j, p in enumerate(it.constraints):
                mapped = map_rule(p["rule"])
                if mapped is not None:
                    row.append(mapped.check(r))
                else:
                    row.append(None)
                    requests.append(
                        ChecklistRequest(it.messages[-1]["content"], [p["text"]], r, [p["point_id"]])
                    )
                    where.append((i, j))
            decided.append(row)
        if requests and judge_backend is None:
            raise FollowkitError(f"{self.name} is scored by an LLM judge: pass --judge MODEL")
        verdicts = judge_checklists(judge_backend, requests, template) if requests else []
        judged: dict[tuple[int, int], Any] = dict(zip(where, verdicts, strict=True))

        out = []
        for i, (it, row) in enumerate(zip(items, decided, strict=True)):
            vs = {j: judged[(i, j)] for j in range(len(row)) if (i, j) in judged}
            if any(not v.raw for v in vs.values()):
                first = next(v for v in vs.values() if not v.raw)
                out.append({"error": f"judge: {first.error}"})
                continue
            met = [bool(row[j]) if j not in vs else vs[j].scores[0] == 1 for j in range(len(row))]
            final = rely(met, [p["dep"] for p in it.constraints])
            points = []
            for j, p in enumerate(it.constraints):
                extra: dict[str, Any] = (
                    {"decided_by": "rule"}
                    if j not in vs
                    else {
                        "decided_by": "judge",
                        "judge": {"error": vs[j].error, "raw": vs[j].raw},
                    }
                )
                points.append({**p, "met": met[j], "met_with_deps": final[j], **extra})
            out.append(
                {
                    "prompt": it.messages[-1]["content"],
                    "constraints": points,
                    "verdicts": {"strict": final},
                    "followed": {"strict": all(final)},
                    "judge": {"unparsable": sum(1 for v in vs.values() if v.error), "judged": len(vs)},
                    "meta": it.meta,
                }
            )
        return out

    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        flat = [v for s in samples for v in s["verdicts"]["strict"]]
        m: dict[str, Metric] = {"drfr": accuracy(flat)}
        by_cat: dict[str, list[bool]] = defaultdict(list)
        nested: list[bool] = []
        for s in samples:
            by_cat[s["meta"]["category"].split("_")[0]].extend(s["verdicts"]["strict"])
            if len(set(s["meta"]["composition_types"])) >= NESTED_MIN_TYPES:
                nested.extend(s["verdicts"]["strict"])
        for cat in sorted(by_cat):
            m[f"drfr_{cat.lower()}"] = accuracy(by_cat[cat])
        m["drfr_nested"] = accuracy(nested)
        m.update(self._coherent(samples))
        judged = sum(s["judge"]["judged"] for s in samples)
        bad = sum(s["judge"]["unparsable"] for s in samples)
        m["judge_unparsable_rate"] = Metric(bad / judged if judged else float("nan"), float("nan"), judged)
        return m

    @staticmethod
    def _coherent(samples: list[dict[str, Any]]) -> dict[str, Metric]:
        """The Coherent Test: a Selection group passes only if every instruction in it is fully met."""
        groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for s in samples:
            if s["meta"].get("group"):
                groups[s["meta"]["group"]].append(s)
        out: dict[str, Metric] = {}
        for label, keep in (("single", lambda d: d == 1), ("multiple", lambda d: d >= 2)):
            chosen = []
            for members in groups.values():
                depth = sum(1 for p in members[0]["constraints"] if "Selection" in p["composition_types"])
                if keep(depth):
                    chosen.append(members)
            if chosen:
                out[f"{label}_origin_test"] = accuracy([s["followed"]["strict"] for g in chosen for s in g])
                out[f"{label}_coherent_test"] = accuracy(
                    [all(s["followed"]["strict"] for s in g) for g in chosen]
                )
        return out

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        tables: dict[str, dict[str, list[bool]]] = {
            "DRFR by category": defaultdict(list),
            "DRFR by composition signature (nested_methods_drfr)": defaultdict(list),
            "DRFR by task type": defaultdict(list),
            "DRFR by constraint type and composition type": defaultdict(list),
            "DRFR by constraint dimension": defaultdict(list),
            "questions decided by": defaultdict(list),
        }
        for s in samples:
            meta, flags = s["meta"], s["verdicts"]["strict"]
            tables["DRFR by category"][meta["category"]].extend(flags)
            tables["DRFR by composition signature (nested_methods_drfr)"][
                nested_method(meta["composition_types"])
            ].extend(flags)
            tables["DRFR by task type"][meta["task_types"]].extend(flags)
            for p, v in zip(s["constraints"], flags, strict=True):
                for d in p["constraint_dimensions"]:
                    tables["DRFR by constraint type and composition type"][constraint_type(d)].append(v)
                    tables["DRFR by constraint dimension"][d].append(v)
                for c in p["composition_types"]:
                    tables["DRFR by constraint type and composition type"][c].append(v)
                tables["questions decided by"][p["decided_by"]].append(v)
        return {t: {k: {"drfr": accuracy(v)} for k, v in sorted(rows.items())} for t, rows in tables.items()}


class ComplexBenchEnBenchmark(ComplexBenchBenchmark):
    """ComplexBench's English translation (instruction_en, question_en)."""

    name = "complexbench-en"
    language = "en"
