"""Multi-IF (He et al. 2024, arXiv 2410.15553): IFEval instructions over up to three turns, 8 languages.

Data (facebookresearch/Multi-IF, ``multiIF_20241018*.csv``): one row per conversation with
``key``, ``language`` and per turn k ``turn_k_prompt`` (a JSON object ``{"role": "user",
"content": ...}``), ``turn_k_instruction_id_list`` (a JSON list of IFEval ids) and
``turn_k_kwargs`` (a JSON list whose entries are JSON *strings* of kwargs objects). Turn k's lists
hold every constraint in force at that turn: the earlier turns' and its own. An empty (or "None")
turn prompt ends the conversation early: some rows have two turns.

The runner asks turn by turn (`MultiTurnBenchmark`): turn 1 of a batch of conversations, then turn 2
with the model's own first answer in context, and so on.

Scoring as the authors' ``metrics.py`` (``metrics_gen``): for each turn, over the conversations that
have it, and for all languages together and each language apart,
prompt-level accuracy = share of turns whose every constraint is followed, instruction-level
accuracy = followed constraints / all constraints of those turns (pooled, not averaged per turn),
each strict and loose (IFEval's loose variants); the turn's headline ``overall`` is the plain mean
of those four numbers.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import defaultdict
from typing import Any

from followkit.backends.base import Backend
from followkit.core.errors import InputError
from followkit.core.stats import Metric, accuracy
from followkit.evaluate.base import Breakdowns, EvalItem, MultiTurnBenchmark

ALL_LANGUAGES = "all"
"""The row of the per-language table that pools every language (the authors' "all_languages")."""

ABSENT_TURN = ("", "None")
"""Cell values the authors' code reads as "this turn does not exist" (``metrics_gen``)."""

OVERALL_HAS_NO_STDERR = True
"""Policy: a turn's `overall` (the mean of four accuracies, two of them pooled over constraints) is
reported with no standard error; the four accuracies carry theirs (the authors bootstrap 95%
intervals for the prompt-level accuracy and the per-turn mean instruction share instead)."""

ENGLISH_COUNTING = True
"""Deviation: followkit scores Multi-IF with its IFEval checkers, which count words and sentences as
IFEval does. The authors' copy of ifeval.py counts Chinese, Japanese and Korean characters as words and
splits Thai with pythainlp; on their English file the two agree."""

BAD_ROW_REFUSED = True
"""Deviation: a row whose cells cannot be read (JSON, ids, kwargs) stops the run with one error naming
the file, the row, its key and the field; the authors' metrics_gen skips a row whose instruction list
is not JSON and scores the rest."""

TURN_COLUMNS = (
    "prompt_level_strict_acc",
    "inst_level_strict_acc",
    "prompt_level_loose_acc",
    "inst_level_loose_acc",
)

_TURN_PROMPT = re.compile(r"^turn_(\d+)_prompt$")


def _mean_of(metrics: list[Metric], n: int) -> Metric:
    return Metric(sum(m.value for m in metrics) / len(metrics), float("nan"), n)


def turn_metrics(turns: list[dict[str, Any]]) -> dict[str, Metric]:
    """The authors' four accuracies over scored turns, and their mean (`overall`)."""
    out: dict[str, Metric] = {}
    for mode in ("strict", "loose"):
        out[f"prompt_level_{mode}_acc"] = accuracy([t["followed"][mode] for t in turns])
        out[f"inst_level_{mode}_acc"] = accuracy([v for t in turns for v in t["verdicts"][mode]])
    out["overall"] = _mean_of([out[c] for c in TURN_COLUMNS], len(turns))
    return out


class _Row:
    """One CSV row being read: names the file, the row (and its key) and the field in each error."""

    def __init__(self, path: str, n: int, rec: dict[str, str | None]):
        self.path, self.n, self.rec = path, n, rec
        key = (rec.get("key") or "").strip()
        self.key = key or None

    def bad(self, msg: str, field: str) -> InputError:
        where = f"row {self.n} (key {self.key})" if self.key else f"row {self.n}"
        return InputError(f"{where}: {msg}", path=self.path, field=field)

    def cell(self, field: str) -> str:
        value = self.rec.get(field)
        return "" if value is None else value.strip()

    def json(self, field: str) -> Any:
        try:
            return json.loads(self.cell(field))
        except json.JSONDecodeError as exc:
            raise self.bad(f"not JSON ({exc.msg})", field) from None


def _turn(row: _Row, k: int) -> dict[str, Any]:
    """Turn k of a row: {"prompt", "constraints"}; constraints validated against the registry."""
    from followkit.constraints import registry
    from followkit.core.errors import ConstraintError

    pf, idf, kwf = f"turn_{k}_prompt", f"turn_{k}_instruction_id_list", f"turn_{k}_kwargs"
    msg = row.json(pf)
    if not (isinstance(msg, dict) and isinstance(msg.get("content"), str) and msg["content"].strip()):
        raise row.bad('expected a JSON object {"role": "user", "content": "..."} with non-empty content', pf)
    if msg.get("role", "user") != "user":
        raise row.bad(f"role '{msg.get('role')}', expected 'user'", pf)
    cids = row.json(idf)
    if not (isinstance(cids, list) and cids and all(isinstance(c, str) for c in cids)):
        raise row.bad("expected a non-empty JSON list of instruction ids", idf)
    raw = row.json(kwf)
    if not isinstance(raw, list):
        raise row.bad("expected a JSON list of kwargs", kwf)
    if len(raw) != len(cids):
        raise row.bad(f"{len(cids)} instruction ids but {len(raw)} kwargs", kwf)
    kwargs: list[dict[str, Any]] = []
    for j, kw in enumerate(raw):
        if isinstance(kw, str):  # as published: each entry is itself a JSON string
            try:
                kw = json.loads(kw) if kw.strip() else {}
            except json.JSONDecodeError as exc:
                raise row.bad(f"entry {j + 1} is not JSON ({exc.msg})", kwf) from None
        if kw is not None and not isinstance(kw, dict):
            raise row.bad(f"entry {j + 1} is not a JSON object", kwf)
        kwargs.append({a: v for a, v in (kw or {}).items() if v is not None})
    for cid, kw in zip(cids, kwargs, strict=True):
        try:
            registry.get(cid).parse_kwargs(kw)
        except ConstraintError as exc:
            raise row.bad(str(exc), idf if "unknown" in str(exc) else kwf) from None
    return {
        "prompt": msg["content"],
        "constraints": [{"id": c, "kwargs": kw} for c, kw in zip(cids, kwargs, strict=True)],
    }


def multi_if_items(path: str) -> list[EvalItem]:
    """EvalItems from Multi-IF's published CSV: one per conversation, its turns in `item.turns`."""
    from pathlib import Path

    from followkit.core.records import Conversation

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file (Multi-IF's CSV, e.g. multiIF_20241018_english.csv)", path=path)
    csv.field_size_limit(sys.maxsize)
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        n_turns = max((int(m.group(1)) for f in header if (m := _TURN_PROMPT.match(f))), default=0)
        need = ["key", "language"] + [
            f"turn_{k}_{c}"
            for k in range(1, n_turns + 1)
            for c in ("prompt", "instruction_id_list", "kwargs")
        ]
        missing = [c for c in need if c not in header]
        if n_turns == 0 or missing:
            raise InputError(
                f"not Multi-IF's CSV: missing column(s) {', '.join(missing or ['turn_1_prompt'])}", path=path
            )
        items: list[EvalItem] = []
        seen: set[str] = set()
        for n, rec in enumerate(reader, start=1):
            row = _Row(path, n, rec)
            if row.key is None:
                raise row.bad("missing or empty", "key")
            if row.key in seen:
                raise row.bad(f"duplicate key {row.key}", "key")
            seen.add(row.key)
            language = row.cell("language")
            if not language:
                raise row.bad("missing or empty", "language")
            turns: list[dict[str, Any]] = []
            for k in range(1, n_turns + 1):
                if row.cell(f"turn_{k}_prompt") in ABSENT_TURN:
                    later = [
                        f"turn_{j}_{c}"
                        for j in range(k, n_turns + 1)
                        for c in ("prompt", "instruction_id_list", "kwargs")
                    ]
                    filled = next((f for f in later if row.cell(f) not in ABSENT_TURN), None)
                    if filled:
                        raise row.bad(f"turn {k}'s prompt is empty, so this cell must be too", filled)
                    break
                turns.append(_turn(row, k))
            if not turns:
                raise row.bad("missing or empty (every conversation has a first turn)", "turn_1_prompt")
            Conversation.model_validate({"id": row.key, "language": language, "turns": turns})
            items.append(
                EvalItem(
                    id=row.key,
                    messages=[{"role": "user", "content": turns[0]["prompt"]}],
                    constraints=turns[0]["constraints"],
                    meta={"language": language},
                    turns=turns,
                )
            )
    if not items:
        raise InputError("no conversations", path=path)
    return items


class MultiIFBenchmark(MultiTurnBenchmark):
    """Multi-IF: per-turn, per-language strict and loose accuracies, and their mean per turn."""

    name = "multi-if"

    def load(self, path: str | None = None) -> list[EvalItem]:
        if not path:
            raise InputError(
                "Multi-IF is read from its published CSV: --benchmark multi-if:PATH/multiIF_20241018_english.csv"
            )
        return multi_if_items(path)

    def score_turns(
        self, items: list[EvalItem], answers: list[list[str]], judge: Backend | None = None
    ) -> list[dict[str, Any]]:
        from followkit.constraints.verify import check_all

        out = []
        for item, said in zip(items, answers, strict=True):
            turns = []
            for turn, answer in zip(item.turns, said, strict=True):
                pairs = [(c["id"], c.get("kwargs") or {}) for c in turn["constraints"]]
                verdicts = {
                    mode: check_all(pairs, answer, mode=mode, prompt=turn["prompt"], semantics=self.semantics)
                    for mode in ("strict", "loose")
                }
                turns.append(
                    {
                        "prompt": turn["prompt"],
                        "constraints": turn["constraints"],
                        "verdicts": verdicts,
                        "followed": {m: all(v) for m, v in verdicts.items()},
                    }
                )
            out.append({"language": item.meta["language"], "turns": turns})
        return out

    def _groups(self, samples: list[dict[str, Any]]) -> dict[int, dict[str, list[dict[str, Any]]]]:
        """turn number -> language (and ALL_LANGUAGES) -> the scored turns."""
        groups: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for s in samples:
            for k, turn in enumerate(s["turns"], start=1):
                groups[k][ALL_LANGUAGES].append(turn)
                groups[k][s["language"]].append(turn)
        return groups

    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        out: dict[str, Metric] = {}
        for k, by_lang in sorted(self._groups(samples).items()):
            for name, m in turn_metrics(by_lang[ALL_LANGUAGES]).items():
                out[f"turn_{k}_{name}"] = m
        return out

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        rows: dict[str, dict[str, Metric]] = {}
        for k, by_lang in sorted(self._groups(samples).items()):
            langs = [ALL_LANGUAGES] + sorted(lang for lang in by_lang if lang != ALL_LANGUAGES)
            for lang in langs:
                rows[f"turn {k} · {lang}"] = turn_metrics(by_lang[lang])
        return {"accuracy by turn and language": rows}
