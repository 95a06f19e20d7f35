"""FollowBench (Jiang et al. 2024, arXiv 2310.20410): constraints added to a seed instruction level by level.

Data (YJiangcm/FollowBench, ``data/<category>_constraints.json``, category = content, situation,
style, format, example, mixed): JSON arrays of ``{"example_id", "category", "source", "level",
"instruction", "target"}``. Level 0 is the seed instruction (not asked); level k (1-5) has k added
constraints. ``--benchmark followbench:PATH`` takes one file or the folder of the six.

Scoring as the authors' code: items whose source is in RULE_SOURCES, format items 22 and 30 and the
example category are decided by rules (one verdict for the item, counted for HSR and SSR alike);
the rest are judged: the judge sees the seed and every evolved instruction up to level k and the
answer, and says YES/NO for each of the k added constraints (the checklist judge: the response
tagged as untrusted data, a hash marker, one retry). Per level: HSR = share of items with every
constraint met, SSR = share of constraints met; CSL = number of consecutive levels met from level 1
per seed instruction, averaged over the seeds with all five levels scored.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from followkit.backends.base import Backend
from followkit.core.errors import FollowkitError, InputError
from followkit.core.stats import Metric, accuracy, mean_metric
from followkit.evaluate.base import Benchmark, Breakdowns, EvalItem
from followkit.evaluate.checklist import ChecklistRequest, checklist_template, judge_checklists

CATEGORIES = ("content", "situation", "style", "format", "example", "mixed")

RULE_SOURCES = frozenset(
    {"E2E", "WIKIEVENTS", "CONLL2003", "text_editing", "BBH_logical", "BBH_time", "self_made_space", "gsm_8k"}
)
"""Sources the authors decide by rules and followkit decides by the same rules."""

RULES_BY_JUDGE = frozenset({"cnn_dailymail", "xsum", "samsum", "gigaword", "arxiv"})
"""Sources (and format items 22 and 30) for which the authors hand-wrote per-level rules (sentence
counts, word limits, given words per sentence). followkit does not have those rules yet: these items
go to the judge like the rest."""


def _last(pattern: str, text: str) -> str | None:
    hits = re.findall(pattern, text)
    return hits[-1] if hits else None


def rule_verdict(source: str, generation: str, target: str) -> bool:
    """The authors' rule for one of RULE_SOURCES: exact answers, last-answer matches, membership."""
    if source in ("E2E", "text_editing"):
        return generation == target
    if source == "WIKIEVENTS":
        allowed = target.split("\n")
        return all(line in allowed for line in generation.split("\n"))
    if source == "CONLL2003":
        try:
            options = ast.literal_eval(target)
        except (ValueError, SyntaxError):
            return False
        return generation in options
    if source == "BBH_logical":
        return _last(r"\([A-Z]\)", generation) == target
    if source == "BBH_time":
        return _last(r"\d{2}/\d{2}/\d{4}", generation) == target
    if source == "gsm_8k":
        return _last(r"\$\d+", generation) == target
    if source == "self_made_space":
        return target in generation
    raise ValueError(f"no rule for source {source!r}")


def example_verdict(target: str, generation: str) -> bool:
    """Example category: the answer must fill the target's template, `{answer}` matching anything."""
    template = target.replace("{instruction}\n", "").replace("{{", "{").replace("}}", "}")
    pattern = ".*".join(re.escape(part) for part in template.split("{answer}"))
    return re.fullmatch(pattern, generation, re.S) is not None


def _rule_kind(rec: dict[str, Any]) -> str:
    if rec["category"] == "example":
        return "example"
    if rec["source"] in RULE_SOURCES:
        return "rule"
    return "judge"


def _files(path: str) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        found = [p / f"{c}_constraints.json" for c in CATEGORIES if (p / f"{c}_constraints.json").is_file()]
        if not found:
            raise InputError("no <category>_constraints.json files in this folder", path=path)
        return found
    if not p.is_file():
        raise InputError("no such file or folder (FollowBench's data/ folder or one of its files)", path=path)
    return [p]


def followbench_items(path: str) -> list[EvalItem]:
    """EvalItems (levels 1-5) from FollowBench's published files; each carries its seed's evolving instructions."""
    items: list[EvalItem] = []
    seen: set[str] = set()
    for f in _files(path):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg} at line {exc.lineno})", path=str(f)) from None
        if not isinstance(data, list):
            raise InputError("expected a JSON array of records", path=str(f))
        # Seeds are keyed by the file's constraint type: mixed_constraints.json holds records whose
        # category is another type's name, with example_ids of their own.
        ctype = f.stem.removesuffix("_constraints")
        by_seed: dict[int, dict[int, str]] = defaultdict(dict)
        for k, rec in enumerate(data, start=1):
            where = f"record example_id {rec.get('example_id')} level {rec.get('level')} (position {k})"
            for key, typ in (("example_id", int), ("level", int), ("instruction", str), ("category", str)):
                if not isinstance(rec.get(key), typ) or isinstance(rec.get(key), bool):
                    raise InputError(f"{where}: missing or not {typ.__name__}", path=str(f), field=key)
            if not 0 <= rec["level"] <= 5:
                raise InputError(f"{where}: level must be 0-5", path=str(f), field="level")
            by_seed[rec["example_id"]][rec["level"]] = rec["instruction"]
        for rec in data:
            if rec["level"] == 0:
                continue
            rid = f"{ctype}:{rec['example_id']}:{rec['level']}"
            if rid in seen:
                raise InputError(f"duplicate item {rid}", path=str(f))
            seen.add(rid)
            levels = by_seed[rec["example_id"]]
            kind = _rule_kind(rec)
            items.append(
                EvalItem(
                    id=rid,
                    messages=[{"role": "user", "content": rec["instruction"]}],
                    meta={
                        "category": ctype,
                        "record_category": rec["category"],
                        "example_id": rec["example_id"],
                        "source": str(rec.get("source", "?")),
                        "level": rec["level"],
                        "target": str(rec.get("target") or ""),
                        "scored_by": kind,
                        # the seed (level 0, where there is one) and each evolved instruction up to this level
                        "evolution": [levels[j] for j in range(rec["level"] + 1) if j in levels],
                    },
                )
            )
    if not items:
        raise InputError("no items at levels 1-5", path=path)
    return items


def _judge_query(meta: dict[str, Any]) -> str:
    parts = []
    evolution = meta["evolution"]
    offset = meta["level"] + 1 - len(evolution)  # 1 when the seed (level 0) is absent
    for j, text in enumerate(evolution, start=offset):
        head = "Initial instruction" if j == 0 else f"Initial instruction + {j} added constraint(s)"
        parts.append(f"## {head}\n{text.strip()}")
    return (
        "Constraints were added to an initial instruction one at a time. The model answered the last "
        "instruction below.\n\n" + "\n\n".join(parts)
    )


class FollowBenchBenchmark(Benchmark):
    """FollowBench: HSR, SSR per level 1-5 and CSL; rule-decided items as the authors, the rest judged."""

    name = "followbench"
    needs_judge = True

    def __init__(self, judge_template: str | None = None):
        self.judge_template = judge_template

    def load(self, path: str | None = None) -> list[EvalItem]:
        if not path:
            raise InputError("followbench reads local files: --benchmark followbench:PATH (its data/ folder)")
        return followbench_items(path)

    def score(
        self, items: list[EvalItem], responses: list[str], judge_backend: Backend | None = None
    ) -> list[dict[str, Any]]:
        judged = [(it, r) for it, r in zip(items, responses, strict=True) if it.meta["scored_by"] == "judge"]
        verdicts: dict[str, Any] = {}
        if judged:
            if judge_backend is None:
                raise FollowkitError("followbench is scored partly by an LLM judge: pass --judge MODEL")
            template = checklist_template(self.judge_template, "cfbench_judge")
            requests = [
                ChecklistRequest(
                    query=_judge_query(it.meta),
                    items=[
                        f"The answer satisfies constraint {j} (the one added at step {j})"
                        for j in range(1, it.meta["level"] + 1)
                    ],
                    response=r,
                    keys=list(range(1, it.meta["level"] + 1)),
                )
                for it, r in judged
            ]
            for (it, _), v in zip(judged, judge_checklists(judge_backend, requests, template), strict=True):
                verdicts[it.id] = v
        out = []
        for it, r in zip(items, responses, strict=True):
            meta = it.meta
            judge_info = None
            if meta["scored_by"] == "example":
                met = [example_verdict(meta["target"], r)]
            elif meta["scored_by"] == "rule":
                met = [rule_verdict(meta["source"], r, meta["target"])]
            else:
                v = verdicts[it.id]
                if not v.raw:  # the judge call failed: retried on rerun
                    out.append({"error": f"judge: {v.error}"})
                    continue
                met = [s == 1 for s in v.scores]  # an unparsable verdict meets nothing
                judge_info = {"error": v.error, "raw": v.raw}
            hard = all(met)
            # A rule decides the item as a whole: its one verdict counts for SSR too (the authors' code).
            soft = sum(met) / len(met)
            out.append(
                {
                    "prompt": it.messages[-1]["content"],
                    "verdicts": {"strict": met},
                    "followed": {"strict": hard},
                    "followbench": {"hsr": float(hard), "ssr": soft},
                    **({"judge": judge_info} if judge_info else {}),
                    "meta": {k: v for k, v in meta.items() if k != "evolution"},
                }
            )
        return out

    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        m: dict[str, Metric] = {}
        for level in range(1, 6):
            rows = [s["followbench"] for s in samples if s["meta"]["level"] == level]
            if rows:
                m[f"hsr_level{level}"] = mean_metric([r["hsr"] for r in rows])
                m[f"ssr_level{level}"] = mean_metric([r["ssr"] for r in rows])
        m["hsr"] = mean_metric([s["followbench"]["hsr"] for s in samples])
        m["ssr"] = mean_metric([s["followbench"]["ssr"] for s in samples])
        csl = csl_values(samples)
        if csl:
            m["csl"] = mean_metric(csl)
        judged = [s for s in samples if "judge" in s]
        if judged:
            m["judge_unparsable_rate"] = mean_metric([1.0 if s["judge"]["error"] else 0.0 for s in judged])
        return m

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        by_cat: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
        by_kind: dict[str, list[bool]] = defaultdict(list)
        for s in samples:
            by_cat[s["meta"]["category"]][s["meta"]["level"]].append(s["followed"]["strict"])
            by_kind[s["meta"]["scored_by"]].append(s["followed"]["strict"])
        return {
            "HSR by category and level": {
                cat: {f"level {k}": accuracy(v) for k, v in sorted(levels.items())}
                for cat, levels in sorted(by_cat.items())
            },
            "HSR by how items are scored": {k: {"hsr": accuracy(v)} for k, v in sorted(by_kind.items())},
        }


def csl_values(samples: list[dict[str, Any]]) -> list[float]:
    """Consecutive levels met from level 1, one value per seed instruction with all five levels scored."""
    seeds: dict[tuple[str, int], dict[int, bool]] = defaultdict(dict)
    for s in samples:
        seeds[(s["meta"]["category"], s["meta"]["example_id"])][s["meta"]["level"]] = s["followed"]["strict"]
    out = []
    for levels in seeds.values():
        if set(levels) != {1, 2, 3, 4, 5}:
            continue
        n = 0
        while n < 5 and levels[n + 1]:
            n += 1
        out.append(float(n))
    return out
