"""Verifiable rewards for RLVR: the constraint checkers as reward functions for TRL and verl.

Input: per completion, its constraint spec, in either form (DESIGN section 2):
  - IFEval: ``instruction_id_list`` (ids) and ``kwargs`` (one dict per id; None values ignored,
    as Arrow's struct columns fill missing keys with None);
  - followkit: ``constraints`` ([{id, kwargs, text}]); ids no rule decides (a ``dimension`` and
    no registry entry) are left out, as ``followkit verify`` leaves them to a judge;
  - multi-turn (a Conversation, ``synth compose --turns``): ``turns`` ([{prompt, constraints}]);
    the completion answers the last turn and is checked against its constraints, which hold
    every constraint in force (they accumulate over turns, as in Multi-IF).
Any may also be a JSON string (a dataset can store the spec as text and avoid Arrow's
struct unification). Completions are strings or chat messages (the last assistant turn counts).

Output: one float per completion (None where a row has no rule-checkable constraint: TRL then
treats the row as unscorable).

- ``constraint_reward``: TRL's ``reward_funcs`` signature, the fraction of constraints followed,
  strict (``DEFAULT_MODE``); ``make_constraint_reward(mode=..., loose=..., length_penalty=...,
  judge=...)`` builds the other variants, each a picklable callable.
- ``LengthPenalty``: multiplies the rule reward by a factor below 1 outside a word range.
- ``HybridReward``: the rule reward combined (product or weighted sum) with a judge's quality
  score 0-10 / 10, asked through followkit.judges.trace (TRACE protocol, temperature 0, so the request
  cache answers reruns), against reward hacking (IFBench, arXiv 2507.02833).
- ``compute_score``: verl's custom reward ``compute_score(data_source, solution_str,
  ground_truth, extra_info)`` with the spec in ``ground_truth`` (a dict or a JSON string).

Logged through TRL's ``log_metric`` hook when given (the GRPOTrainer passes it):
``constraints/<family>/mean`` and ``constraints/<family>/std``, the mean and population standard
deviation of the 0/1 verdicts (in the reward's mode) of every constraint whose id starts with
``<family>:``, over the completions of one call; with a judge, ``judge/quality`` (mean score / 10).

Reasoning traces (``<think>...</think>``, followkit.core.reasoning) are split off before anything is
checked or judged: only the answer earns reward, and an unclosed trace is an empty answer that
follows nothing. ``reasoning="keep"`` turns this off; ``reasoning_markers`` names other tags.

Nothing heavy is imported here: no torch, no transformers, no backend SDK.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Literal

from followkit.constraints import registry
from followkit.constraints.text import count_words, has_cjk
from followkit.constraints.verify import Check, parse_checks
from followkit.core.errors import ConstraintError, InputError
from followkit.core.reasoning import DEFAULT_MARKERS, Setting, answer_text, parse_markers
from followkit.rewards.core import MODES, Mode, judge_scores, rule_score, rule_verdicts

DEFAULT_MODE: Mode = "fraction"
"""Policy: the default reward is the fraction of a prompt's constraints followed, not all-or-nothing.

Tülu 3 and IFBench (arXiv 2507.02833) verify each constraint separately; on multi-constraint
prompts an all-or-nothing reward is 0 for every sample of a small model, so most groups have zero
variance and carry no signal, while the fraction still ranks a group's samples. ``make_constraint_reward(mode="all")`` gives the
all-or-nothing reward (IFEval's prompt-level accuracy)."""

DEFAULT_LOOSE = False
"""Policy: the default reward checks strictly (the text as given), as the headline IFEval metric does;
loose credit for a wrapper line would teach the model to keep one."""

JUDGE_UNPARSABLE_SCORE = 0.0
"""Policy: a judge verdict that cannot be parsed (or a failed judge call) scores 0 quality, never a
pass: a response that derails the judge must not earn reward for it."""

MIN_CONTENT_WORDS = 8
"""Policy: the GRPO default content minimum (``min_content``): no constraint is credited unless the
answer holds this many distinct words outside the word trigrams it shares with the prompt and the
constraint texts. The reward-hack matrix (docs/reward_hacks.md) shows what it closes; ids whose right
answer is shorter (a fixed phrase) then earn nothing, and the matrix lists them."""

ECHO_NGRAM = 3
"""Guard ``min_content``: answer words inside a word n-gram of this length that the prompt or a
constraint text also holds are echo, not content."""

QUALITY_CRITERION = (
    "The response is a relevant, helpful, complete and correct answer to the query: not empty, "
    "not a copy or echo of the query, not a fragment."
)
"""The one criterion the judge scores 0-10 for the quality term of ``HybridReward``."""


# --- specs -------------------------------------------------------------------------------------


def _where(row: int, ident: Any) -> str:
    return f"reward row {row}" + (f" ({ident})" if ident is not None else "")


def _decoded(value: Any, where: str, field: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", path=where, field=field) from None
    return value


def _lookup(cid: str, kw: Any, where: str, id_field: str, kw_field: str) -> Check:
    try:
        registry.get(cid)
    except ConstraintError as exc:
        raise ConstraintError(f"{where}: field '{id_field}': {exc}") from None
    try:
        return parse_checks([(cid, kw)])[0]
    except ConstraintError as exc:
        raise ConstraintError(f"{where}: field '{kw_field}': {exc}") from None


def final_turn_constraints(turns: Any, where: str) -> tuple[Any, str]:
    """A multi-turn row's last turn's constraints (all those in force) and the field that holds them."""
    turns = _decoded(turns, where, "turns")
    if not isinstance(turns, list) or not turns:
        got = type(turns).__name__ if not isinstance(turns, list) else "an empty list"
        raise InputError(f"expected a non-empty list of turns, got {got}", path=where, field="turns")
    at = f"turns[{len(turns) - 1}]"
    last = turns[-1]
    if not isinstance(last, dict):
        raise InputError(f"expected an object, got {type(last).__name__}", path=where, field=at)
    if last.get("constraints") is None:
        raise InputError("missing", path=where, field=f"{at}.constraints")
    return last["constraints"], f"{at}.constraints"


def row_checks(
    where: str,
    instruction_id_list: Any = None,
    kwargs: Any = None,
    constraints: Any = None,
    turns: Any = None,
) -> tuple[list[str], list[Check]]:
    """(ids, validated checks) of one row's spec; InputError / ConstraintError naming `where` and the field.

    `where` names the row in messages: "reward row 3 (key 1005)", or "data.jsonl:4". A row with
    only `turns` (multi-turn) is checked against its last turn's constraints.
    """
    field = "constraints"
    if constraints is None and instruction_id_list is None and turns is not None:
        constraints, field = final_turn_constraints(turns, where)
    if constraints is not None:
        cons = _decoded(constraints, where, field)
        if not isinstance(cons, list):
            raise InputError(f"expected a list, got {type(cons).__name__}", path=where, field=field)
        ids, checks = [], []
        known = registry.registry()
        for i, c in enumerate(cons):
            at = f"{field}[{i}]"
            if not isinstance(c, dict):
                raise InputError(f"expected an object, got {type(c).__name__}", path=where, field=at)
            cid = c.get("id")
            if not isinstance(cid, str):
                why = "missing" if cid is None else f"expected str, got {type(cid).__name__}"
                raise InputError(why, path=where, field=f"{at}.id")
            kw = c.get("kwargs") or {}
            if not isinstance(kw, dict):
                raise InputError(
                    f"expected an object, got {type(kw).__name__}", path=where, field=f"{at}.kwargs"
                )
            if cid not in known and c.get("dimension"):
                continue  # a judged constraint: no rule decides it
            checks.append(_lookup(cid, kw, where, f"{at}.id", f"{at}.kwargs"))
            ids.append(cid)
        return ids, checks
    if instruction_id_list is None:
        raise InputError(
            "missing; a row needs 'instruction_id_list' and 'kwargs' (IFEval), 'constraints' (followkit) "
            "or 'turns' (multi-turn)",
            path=where,
            field="instruction_id_list",
        )
    ids = _decoded(instruction_id_list, where, "instruction_id_list")
    if not isinstance(ids, list):
        raise InputError(
            f"expected a list, got {type(ids).__name__}", path=where, field="instruction_id_list"
        )
    kws = _decoded(kwargs, where, "kwargs") if kwargs is not None else [None] * len(ids)
    if not isinstance(kws, list):
        raise InputError(f"expected a list, got {type(kws).__name__}", path=where, field="kwargs")
    if len(kws) != len(ids):
        raise InputError(f"has {len(kws)} entries for {len(ids)} instruction ids", path=where, field="kwargs")
    checks = []
    for i, (cid, kw) in enumerate(zip(ids, kws, strict=True)):
        if not isinstance(cid, str):
            raise InputError(
                f"expected a string, got {type(cid).__name__}", path=where, field=f"instruction_id_list[{i}]"
            )
        if kw is not None and not isinstance(kw, dict):
            raise InputError(f"expected an object, got {type(kw).__name__}", path=where, field=f"kwargs[{i}]")
        checks.append(_lookup(cid, kw, where, f"instruction_id_list[{i}]", f"kwargs[{i}]"))
    return list(ids), checks


def _column(value: Any, n: int, name: str) -> list[Any]:
    if value is None:
        return [None] * n
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != n:
        got = (
            len(value) if isinstance(value, Sequence) and not isinstance(value, str) else type(value).__name__
        )
        raise InputError(
            f"expected one entry per completion ({n}), got {got}", path="reward input", field=name
        )
    return list(value)


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the last assistant turn of a list of chat messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, Sequence):
        turns = [m for m in completion if isinstance(m, dict)]
        for m in reversed(turns):
            if m.get("role", "assistant") == "assistant":
                return _content_text(m.get("content"))
        return _content_text(turns[-1].get("content")) if turns else ""
    raise InputError(
        f"expected a string or chat messages, got {type(completion).__name__}", field="completions"
    )


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def prompt_text(prompt: Any) -> str:
    """The text of a prompt: a string, or the last user turn of a list of chat messages."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        for m in reversed([m for m in prompt if isinstance(m, dict)]):
            if m.get("role") == "user":
                return _content_text(m.get("content"))
    return ""


# --- guards ------------------------------------------------------------------------------------

_WORD = re.compile(r"[\u3400-\u9fff]|[^\W_]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(answer: str, sources: Sequence[str], n: int = ECHO_NGRAM) -> int:
    """Distinct words of `answer` outside every word n-gram it shares with one of `sources`.

    An echo of the prompt or of a constraint text counts nothing; a CJK ideograph is one word.
    """
    words = _words(answer)
    grams: set[tuple[str, ...]] = set()
    for src in sources:
        w = _words(src)
        grams.update(tuple(w[i : i + n]) for i in range(len(w) - n + 1))
    echoed = [False] * len(words)
    for i in range(len(words) - n + 1):
        if tuple(words[i : i + n]) in grams:
            for j in range(i, i + n):
                echoed[j] = True
    return len({w for w, e in zip(words, echoed, strict=True) if not e})


def _constraint_texts(checks: list[Check], spec: Any) -> list[str]:
    texts = []
    for ct, kw in checks:
        with contextlib.suppress(Exception):  # a renderer that cannot: the given texts still count
            texts.append(ct.render(kw, "en"))
    spec = _decoded(spec, "reward input", "constraints") if isinstance(spec, str) else spec
    if isinstance(spec, list):
        texts += [c["text"] for c in spec if isinstance(c, dict) and isinstance(c.get("text"), str)]
    return texts


# --- rewards -----------------------------------------------------------------------------------


class LengthPenalty:
    """A factor in [0, 1] on a reward by response length in words (CJK ideographs count one each).

    Below ``min_words`` the factor is words / min_words (an "a" reply to a 20-word minimum gets
    0.05); above ``max_words`` it falls linearly to 0 at twice max_words; in between it is 1.
    """

    def __init__(self, min_words: int = 0, max_words: int | None = None):
        if min_words < 0 or (max_words is not None and max_words < max(min_words, 1)):
            raise ValueError(f"need 0 <= min_words <= max_words, got {min_words}, {max_words}")
        self.min_words, self.max_words = min_words, max_words

    def words(self, text: str) -> int:
        return count_words(text, "zh" if has_cjk(text) else "en")

    def __call__(self, text: str) -> float:
        n = self.words(text)
        if self.min_words and n < self.min_words:
            return n / self.min_words
        if self.max_words is not None and n > self.max_words:
            return max(0.0, 1.0 - (n - self.max_words) / self.max_words)
        return 1.0

    def __repr__(self) -> str:
        return f"LengthPenalty(min_words={self.min_words}, max_words={self.max_words})"


def _log_families(log_metric: Callable[[str, float], None], by_family: dict[str, list[bool]]) -> None:
    for family in sorted(by_family):
        values = [float(v) for v in by_family[family]]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        log_metric(f"constraints/{family}/mean", mean)
        log_metric(f"constraints/{family}/std", std)


class ConstraintReward:
    """A rule reward: per completion, the share (``fraction``) or all (``all``) of its constraints followed.

    ``min_content`` (guard, 0: off): every constraint counts as not followed unless the answer holds
    that many distinct words outside the word trigrams it shares with the prompt (TRL's ``prompts``,
    or a ``prompt`` column) and the constraint texts (content_words).

    Call it as TRL calls a reward function: ``reward(completions=..., instruction_id_list=...,
    kwargs=..., constraints=..., **other_columns)``. Picklable (plain attributes only).
    """

    def __init__(
        self,
        mode: Mode = DEFAULT_MODE,
        loose: bool = DEFAULT_LOOSE,
        length_penalty: LengthPenalty | None = None,
        name: str | None = None,
        reasoning: Setting = "strip",
        reasoning_markers: str | tuple[str, str] = DEFAULT_MARKERS,
        min_content: int = 0,
    ):
        if min_content < 0:
            raise ValueError(f"min_content must be >= 0, got {min_content}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if reasoning not in ("strip", "keep"):
            raise ValueError(f"reasoning must be 'strip' or 'keep', not {reasoning!r}")
        self.mode, self.loose, self.length_penalty = mode, loose, length_penalty
        self.reasoning, self.reasoning_markers = reasoning, parse_markers(reasoning_markers)
        self.min_content = min_content
        self.__name__ = name or f"constraint_reward_{mode}_{'loose' if loose else 'strict'}"

    def verdicts(
        self, completions: Sequence[Any], **columns: Any
    ) -> list[tuple[list[str], list[bool]] | None]:
        """(ids, verdicts) per completion, None for a row without rule-checkable constraints."""
        n = len(completions)
        ids_col = _column(columns.get("instruction_id_list"), n, "instruction_id_list")
        kw_col = _column(columns.get("kwargs"), n, "kwargs")
        cons_col = _column(columns.get("constraints"), n, "constraints")
        turns_col = _column(columns.get("turns"), n, "turns")
        ident_col = self._idents(columns, n)
        prompt_col = _column(columns.get("prompts") or columns.get("prompt"), n, "prompts")
        parsed: dict[str, tuple[list[str], list[Check]]] = {}  # a group's completions share one spec
        out: list[tuple[list[str], list[bool]] | None] = []
        for i, completion in enumerate(completions):
            spec = [ids_col[i], kw_col[i], cons_col[i], turns_col[i]]
            key = json.dumps(spec, sort_keys=True, default=str)
            if key not in parsed:
                parsed[key] = row_checks(_where(i, ident_col[i]), *spec)
            ids, checks = parsed[key]
            if not checks:
                out.append(None)
                continue
            text = self.answer(completion)
            found = rule_verdicts(checks, text, self.loose)
            if self.min_content:
                sources = [prompt_text(prompt_col[i]) if prompt_col[i] is not None else ""]
                sources += _constraint_texts(checks, cons_col[i])
                if content_words(text, sources) < self.min_content:
                    found = [False] * len(found)
            out.append((ids, found))
        return out

    def answer(self, completion: Any) -> str:
        """The answer a completion is scored on: its text with any reasoning trace split off."""
        return answer_text(completion_text(completion), self.reasoning, self.reasoning_markers)

    @staticmethod
    def _idents(columns: dict[str, Any], n: int) -> list[Any]:
        for name in ("key", "id"):
            col = columns.get(name)
            if isinstance(col, Sequence) and not isinstance(col, str) and len(col) == n:
                return [f"{name} {v}" for v in col]
        return [None] * n

    def __call__(
        self,
        completions: Sequence[Any],
        instruction_id_list: Any = None,
        kwargs: Any = None,
        constraints: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        rows = self.verdicts(
            completions,
            instruction_id_list=instruction_id_list,
            kwargs=kwargs,
            constraints=constraints,
            **columns,
        )
        rewards: list[float | None] = []
        by_family: dict[str, list[bool]] = defaultdict(list)
        for completion, row in zip(completions, rows, strict=True):
            if row is None:
                rewards.append(None)
                continue
            ids, v = row
            for cid, ok in zip(ids, v, strict=True):
                by_family[cid.split(":", 1)[0]].append(ok)
            r = rule_score(v, self.mode)
            if self.length_penalty is not None:
                r *= self.length_penalty(self.answer(completion))
            rewards.append(r)
        if log_metric is not None and by_family:
            _log_families(log_metric, by_family)
        return rewards

    def __repr__(self) -> str:
        return (
            f"ConstraintReward(mode={self.mode!r}, loose={self.loose}, length_penalty={self.length_penalty}, "
            f"reasoning={self.reasoning!r}, min_content={self.min_content})"
        )


Combine = Literal["multiply", "add"]


class HybridReward:
    """The rule reward combined with a judge's quality score q in [0, 1] (overall score / 10).

    ``multiply``: r = rule * q, so a reply that games the checkers but answers nothing gets ~0;
    ``add``: r = (1 - weight) * rule + weight * q. The judge is a followkit backend spec (built on
    first use through load_backend, with the request cache) or a Backend instance, or any object
    with ``quality(prompts, answers) -> [q]`` (a scripted judge, followkit.rewards.hacks). Pickling
    keeps the spec and drops a backend built from it (a worker builds its own).

    ``judge_gate`` (guard, 0: off): the reward is 0 wherever q is below the gate, whatever the rules say.
    """

    def __init__(
        self,
        judge: Any,
        rule: ConstraintReward | None = None,
        combine: Combine = "multiply",
        weight: float = 0.5,
        template: str | None = None,
        max_tokens: int | None = None,
        backend_options: dict[str, Any] | None = None,
        name: str | None = None,
        judge_gate: float = 0.0,
    ):
        if not 0.0 <= judge_gate <= 1.0:
            raise ValueError(f"judge_gate must lie in [0, 1], got {judge_gate}")
        if combine not in ("multiply", "add"):
            raise ValueError(f"combine must be 'multiply' or 'add', not {combine!r}")
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must lie in [0, 1], got {weight}")
        self.judge, self.rule = judge, rule or ConstraintReward()
        self.combine, self.weight, self.judge_gate = combine, weight, judge_gate
        self.template, self.max_tokens = template, max_tokens
        self.backend_options = dict(backend_options or {})
        self.__name__ = name or f"hybrid_{combine}_{self.rule.__name__}"
        self._backend: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_backend"] = None
        return state

    def backend(self) -> Any:
        """The judge backend, built once from the spec (request cache on)."""
        if self._backend is None:
            if isinstance(self.judge, str):
                from followkit.backends import load_backend

                self._backend = load_backend(self.judge, **self.backend_options)
            else:
                self._backend = self.judge
        return self._backend

    def quality(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[float]:
        """Judge quality in [0, 1] per completion (JUDGE_UNPARSABLE_SCORE where no verdict was read)."""
        from followkit.judges.trace import JUDGE_MAX_TOKENS, JudgeRequest

        if hasattr(self.judge, "quality"):
            answers = [self.rule.answer(c) for c in completions]
            return list(self.judge.quality([prompt_text(p) for p in prompts], answers))
        requests = [
            JudgeRequest(query=prompt_text(p), constraints=[QUALITY_CRITERION], response=self.rule.answer(c))
            for p, c in zip(prompts, completions, strict=True)
        ]
        found = judge_scores(
            self.backend(), requests, template=self.template, max_tokens=self.max_tokens or JUDGE_MAX_TOKENS
        )
        return [JUDGE_UNPARSABLE_SCORE if q is None else q for q in found]

    def __call__(
        self,
        completions: Sequence[Any],
        prompts: Sequence[Any] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        rule = self.rule(completions, log_metric=log_metric, prompts=prompts, **columns)
        if prompts is None:
            prompts = columns.get("prompt") or [""] * len(completions)
        q = self.quality(prompts, completions)
        if log_metric is not None and q:
            log_metric("judge/quality", sum(q) / len(q))
        out: list[float | None] = []
        for r, qi in zip(rule, q, strict=True):
            if r is None:
                out.append(None)
            elif qi < self.judge_gate:
                out.append(0.0)
            elif self.combine == "multiply":
                out.append(r * qi)
            else:
                out.append((1.0 - self.weight) * r + self.weight * qi)
        return out

    def __repr__(self) -> str:
        judge = self.judge if isinstance(self.judge, str) else type(self.judge).__name__
        return (
            f"HybridReward(judge={judge!r}, rule={self.rule!r}, combine={self.combine!r}, weight={self.weight}, "
            f"judge_gate={self.judge_gate})"
        )


class ConstraintSlotReward:
    """One constraint slot's reward: 1.0 or 0.0 for the `slot`-th constraint of a row, None where the
    row has fewer constraints (TRL then leaves it out of that function's group statistics).

    ``constraint_slot_rewards`` gives one per slot, for GRPOTrainer's ``reward_funcs`` with
    ``multi_objective_aggregation="normalize_then_sum"``: each constraint is normalised within its
    group before the sum, so an easy constraint followed by every sample cannot hide a hard one.
    The guards of the wrapped ConstraintReward (min_content) apply to every slot.
    """

    def __init__(self, slot: int, rule: ConstraintReward | None = None):
        if slot < 0:
            raise ValueError(f"slot must be >= 0, got {slot}")
        self.slot, self.rule = slot, rule or ConstraintReward()
        self.__name__ = f"constraint_{slot}"

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        columns.pop("log_metric", None)
        rows = self.rule.verdicts(completions, **columns)
        return [None if r is None or len(r[1]) <= self.slot else float(r[1][self.slot]) for r in rows]

    def __repr__(self) -> str:
        return f"ConstraintSlotReward(slot={self.slot}, rule={self.rule!r})"


def constraint_slot_rewards(slots: int, rule: ConstraintReward | None = None) -> list[ConstraintSlotReward]:
    """One ConstraintSlotReward per constraint slot 0..slots-1, sharing one rule reward."""
    if slots < 1:
        raise ValueError(f"slots must be >= 1, got {slots}")
    rule = rule or ConstraintReward()
    return [ConstraintSlotReward(k, rule) for k in range(slots)]


def make_constraint_reward(
    mode: Mode = DEFAULT_MODE,
    loose: bool = DEFAULT_LOOSE,
    length_penalty: LengthPenalty | int | tuple[int, int | None] | None = None,
    judge: Any = None,
    combine: Combine = "multiply",
    weight: float = 0.5,
    judge_template: str | None = None,
    name: str | None = None,
    reasoning: Setting = "strip",
    reasoning_markers: str | tuple[str, str] = DEFAULT_MARKERS,
    min_content: int = 0,
    judge_gate: float = 0.0,
) -> ConstraintReward | HybridReward:
    """A configured reward: rule mode, strict/loose, optional length penalty and judge.

    ``length_penalty``: a LengthPenalty, a minimum word count, or (min_words, max_words).
    ``judge``: a backend spec ('openai:NAME', 'hf:PATH', 'embedded') or Backend; then a HybridReward.
    ``reasoning``: ``strip`` (score the answer after a trace) or ``keep``; ``reasoning_markers``:
    'OPEN,CLOSE' or a pair. Guards (0: off): ``min_content`` distinct non-echo words before any
    constraint is credited; ``judge_gate``, with a judge, a quality below which the reward is 0.

    Example:
        >>> r = make_constraint_reward(mode="all", loose=True)
        >>> r(["hello world"], instruction_id_list=[["punctuation:no_comma"]], kwargs=[[{}]])
        [1.0]
    """
    if isinstance(length_penalty, int) and not isinstance(length_penalty, bool):
        length_penalty = LengthPenalty(min_words=length_penalty)
    elif isinstance(length_penalty, tuple):
        length_penalty = LengthPenalty(*length_penalty)
    rule = ConstraintReward(
        mode,
        loose,
        length_penalty,
        name=None if judge is not None else name,
        reasoning=reasoning,
        reasoning_markers=reasoning_markers,
        min_content=min_content,
    )
    if judge is None:
        if judge_gate:
            raise ValueError("judge_gate needs a judge")
        return rule
    return HybridReward(
        judge, rule, combine=combine, weight=weight, template=judge_template, name=name, judge_gate=judge_gate
    )


def constraint_reward(
    completions: Sequence[Any],
    instruction_id_list: Any = None,
    kwargs: Any = None,
    constraints: Any = None,
    **columns: Any,
) -> list[float | None]:
    """TRL reward: the fraction of each completion's constraints followed, strict (DEFAULT_MODE).

    Example (TRL's GRPOTrainer calls it with every dataset column):
        >>> constraint_reward(
        ...     ["no commas here", "a, b"],
        ...     instruction_id_list=[["punctuation:no_comma"]] * 2,
        ...     kwargs=[[{}]] * 2,
        ... )
        [1.0, 0.0]
    """
    return _DEFAULT(completions, instruction_id_list, kwargs, constraints, **columns)


_DEFAULT = ConstraintReward(name="constraint_reward")


# --- verl --------------------------------------------------------------------------------------


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict | None = None,
    mode: Mode = DEFAULT_MODE,
    loose: bool = DEFAULT_LOOSE,
    reasoning: Setting = "strip",
    reasoning_markers: str | tuple[str, str] = DEFAULT_MARKERS,
    **_: Any,
) -> float:
    """verl's custom reward: the rule reward of one response, its spec in ``ground_truth``.

    ``ground_truth``: ``{"instruction_id_list": [...], "kwargs": [...]}``, ``{"constraints":
    [...]}`` or ``{"turns": [...]}`` (a multi-turn record: its last turn counts), as a dict or its
    JSON string, or a bare list of followkit constraints. ``mode`` and
    ``loose`` (and ``reasoning``, ``reasoning_markers``, as for make_constraint_reward) may come from
    verl's ``custom_reward_function.reward_kwargs``. A spec without a
    rule-checkable constraint is an error (verl needs a number).

    verl config: ``custom_reward_function.path=<site-packages>/followkit/rewards/rlvr.py``,
    ``custom_reward_function.name=compute_score``.
    """
    ident = None
    if isinstance(extra_info, dict):
        for name in ("key", "id", "index"):
            if name in extra_info:
                ident = f"{name} {extra_info[name]}"
                break
    where = "verl ground_truth" + (f" ({ident})" if ident else "")
    spec = _decoded(ground_truth, where, "ground_truth")
    if isinstance(spec, list):
        spec = {"constraints": spec}
    if not isinstance(spec, dict):
        raise InputError(
            f"expected an object or a list, got {type(spec).__name__}",
            path=where,
            field="ground_truth",
        )
    _, checks = row_checks(
        where, spec.get("instruction_id_list"), spec.get("kwargs"), spec.get("constraints"), spec.get("turns")
    )
    if not checks:
        raise InputError("holds no rule-checkable constraint", path=where, field="ground_truth")
    if reasoning not in ("strip", "keep"):
        raise InputError(f"reasoning must be 'strip' or 'keep', not {reasoning!r}", field="reward_kwargs")
    try:
        markers = parse_markers(reasoning_markers)
    except ValueError as exc:
        raise InputError(str(exc), field="reward_kwargs") from None
    answer = answer_text(solution_str, reasoning, markers)
    return rule_score(rule_verdicts(checks, answer, loose), mode)
