"""Verification: responses checked against their constraints, strict and loose, as IFEval scores them.

Input rows (JSONL), one of:
  - IFEval response format: `key, prompt, instruction_id_list, kwargs, response`;
  - responses `prompt, response` joined to an IFEval prompts file (`key, prompt,
    instruction_id_list, kwargs`) by prompt text, as the reference evaluator does;
  - followkit Instruction + response: `id, constraints: [{id, kwargs, text}], prompt, response`.

Every row is validated (JSON, fields, ids, kwargs) before anything is verified, so bad input
fails in a second with file:line:field, not after an hour. Verdicts follow the reference:
strict checks the text as given (blank text fails everything); loose passes an instruction if
any of 8 variants passes (the text; without '*'; without its first line; without its last line;
without both; and those three without '*').
"""

from __future__ import annotations

import functools
import gc
import json
import math
import multiprocessing
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from followkit.constraints import registry
from followkit.constraints.base import ConstraintType
from followkit.core import records
from followkit.core.errors import ConstraintError, InputError
from followkit.core.io import iter_jsonl, require
from followkit.core.reasoning import DEFAULT_MARKERS, Status, read_answer
from followkit.core.records import ConstrainedResponse, Constraint, PromptResponse

Mode = Literal["strict", "loose"]
MODES: tuple[Mode, ...] = ("strict", "loose")


Check = tuple[ConstraintType, BaseModel]


def loose_variants(response: str) -> list[str]:
    """The reference's 8 loose variants of a response, blank and duplicate ones dropped, in order."""
    lines = response.split("\n")
    first = "\n".join(lines[1:]).strip()
    last = "\n".join(lines[:-1]).strip()
    both = "\n".join(lines[1:-1]).strip()
    out: list[str] = []
    seen: set[str] = set()
    for v in (response, response.replace("*", ""), first, last, both,
              first.replace("*", ""), last.replace("*", ""), both.replace("*", "")):  # fmt: skip
        # A blank variant fails every instruction in the reference, and a repeated one gives
        # the verdict already computed: skipping both changes no verdict.
        if v in seen or not v.strip():
            continue
        seen.add(v)
        out.append(v)
    return out


def _check(ct: ConstraintType, text: str, kw: BaseModel) -> bool:
    return bool(ct.check(text, kw))


def verdicts(checks: Sequence[Check], response: str, mode: Mode = "strict") -> list[bool]:
    """Per-constraint verdicts for one response of already-validated constraints."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'strict' or 'loose', not {mode!r}")
    return verdicts_by_mode(checks, response, (mode,))[0]


def verdicts_by_mode(checks: Sequence[Check], response: str, modes: Sequence[Mode]) -> tuple[list[bool], ...]:
    """Verdicts of one response in each of `modes`, sharing the work between them."""
    if not response.strip():
        return tuple([False] * len(checks) for _ in modes)  # every loose variant is blank too
    strict = [_check(ct, response, kw) for ct, kw in checks]
    if "loose" not in modes:
        return (strict,)
    loose = strict
    if not all(strict):
        # The response itself is the first loose variant, so an instruction passed strictly
        # passes loosely; only the failures are re-checked on the other variants.
        others = loose_variants(response)[1:]
        loose = [
            ok or any(_check(ct, v, kw) for v in others) for ok, (ct, kw) in zip(strict, checks, strict=True)
        ]
    return tuple(strict if m == "strict" else loose for m in modes)


def parse_checks(constraints: Sequence[tuple[str, dict | None]], semantics: str = "reference") -> list[Check]:
    """Look up and validate (id, kwargs) pairs; ConstraintError on an unknown id or bad kwargs."""
    out = []
    for cid, kwargs in constraints:
        ct = registry.get(cid, semantics)
        out.append((ct, _parse_kwargs(ct, kwargs)))
    return out


def check_all(
    constraints: list[tuple[str, dict]],
    response: str,
    mode: Mode = "strict",
    prompt: str | None = None,
    semantics: str = "reference",
) -> list[bool]:
    """Verdict per (id, kwargs) constraint for one response, in strict or loose mode.

    `prompt` is accepted for constraints that read the request; no IFEval id does (the
    reference's `prompt_to_repeat` is an explicit kwarg).
    """
    return verdicts(parse_checks(constraints, semantics), response, mode)


# --------------------------------------------------------------------------------------------
# Input rows


@dataclass
class Item:
    """One validated row: its identity, prompt, response and parsed constraints."""

    ident_field: str  # "key" (IFEval rows) or "id" (followkit rows)
    ident: Any
    prompt: str
    response: str
    ids: list[str]
    checks: list[Check] = field(repr=False)
    where: str = ""  # file:line, for messages
    judged: list[str] = field(default_factory=list)  # ids left to a judge (not rule-checkable)
    reasoning: str | None = None  # the trace split off the response (followkit.core.reasoning)
    reasoning_status: Status = "none"

    def read_reasoning(self, setting: str, markers: tuple[str, str]) -> Item:
        """This item with its response split into answer and trace (`keep`: only the status is read)."""
        self.response, self.reasoning, self.reasoning_status = read_answer(
            self.response,
            setting,  # type: ignore[arg-type]
            markers,
        )
        return self


@functools.lru_cache(maxsize=16384)
def _parse_canonical(cid: str, kwargs_json: str) -> BaseModel:
    return registry.get(cid).parse_kwargs(json.loads(kwargs_json))


def _parse_kwargs(ct: ConstraintType, kwargs: dict | None) -> BaseModel:
    # Corpora repeat the same (id, kwargs) many times: validate each distinct pair once.
    try:
        key = json.dumps(kwargs or {}, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return ct.parse_kwargs(kwargs)
    return _parse_canonical(ct.id, key)


def _row_checks(
    constraints: Sequence[Constraint],
    path: str,
    line: int,
    semantics: str,
    ifeval: bool,
    field: str = "constraints",
) -> tuple[list[str], list[Check], list[str]]:
    """(ids, checks, judged ids) of a row's constraints; errors name the field as the row spells it."""
    ids, checks, judged = [], [], []
    reg = registry.registry()
    for i, c in enumerate(constraints):
        id_field, kw_field = (
            (f"instruction_id_list[{i}]", f"kwargs[{i}]")
            if ifeval
            else (f"{field}[{i}].id", f"{field}[{i}].kwargs")
        )
        if not ifeval and c.id not in reg and c.dimension:
            judged.append(c.id)  # a judged constraint (DESIGN 3): no rule decides it
            continue
        try:
            ct = registry.get(c.id, semantics)
        except ConstraintError as exc:
            raise ConstraintError(f"{path}:{line}: field '{id_field}': {exc}") from None
        try:
            checks.append((ct, _parse_kwargs(ct, c.kwargs)))
        except ConstraintError as exc:
            raise ConstraintError(f"{path}:{line}: field '{kw_field}': {exc}") from None
        ids.append(c.id)
    return ids, checks, judged


def check_constraints(
    rec: dict, path: str | Path, line: int, semantics: str = "reference", field: str = "constraints"
) -> list[str]:
    """Validate a followkit row's `constraints` (ids known, kwargs valid); returns the judged ids.

    Raises a one-line error naming file, line and field (`constraints[i].id` or `.kwargs`; `field`
    renames the list, e.g. `turns[1].constraints`), so a stage can check every row before its first
    model call.
    """
    try:
        cons = _CONSTRAINTS.validate_python(require(rec, "constraints", list, path, line))
    except ValidationError as exc:
        raise InputError.from_validation(exc, path=str(path), line=line, prefix=field) from None
    return _row_checks(cons, str(path), line, semantics, ifeval=False, field=field)[2]


_CONSTRAINTS = TypeAdapter(list[Constraint])


def _item(raw: dict, path: str, line: int, semantics: str) -> Item:
    """One row of a response file as an Item: a followkit row, or an IFEval row through its adapter."""
    if "constraints" in raw:
        shape, ident_field = "followkit", "id"
    elif "instruction_id_list" in raw:
        shape, ident_field = "ifeval", "key"
    else:
        raise InputError(
            "missing; a row needs 'instruction_id_list' (IFEval) or 'constraints' (followkit), "
            "or pass --prompts FILE to join responses to IFEval prompts",
            path,
            line,
            "instruction_id_list",
        )
    row = records.parse_row(raw, ConstrainedResponse, path, line, shape=shape)
    ident = getattr(row, ident_field)
    if ident is None:
        raise InputError("missing", path, line, ident_field)
    ids, checks, judged = _row_checks(row.constraints, path, line, semantics, ifeval=shape == "ifeval")
    return Item(ident_field, ident, row.prompt, row.response, ids, checks, f"{path}:{line}", judged)


def load_items(
    path: str | Path,
    prompts: str | Path | None = None,
    missing: list[Any] | None = None,
    semantics: str = "reference",
    reasoning: str = "strip",
    markers: tuple[str, str] = DEFAULT_MARKERS,
) -> list[Item]:
    """Read and validate every row of a response file (optionally joined to a prompts file).

    With `prompts`, a prompt that has no response is left out and its key appended to `missing`
    (MISSING_RESPONSES_SKIPPED). Each response is split into trace and answer as `reasoning` says
    (followkit.core.reasoning); the answer is what is verified."""
    path = str(path)
    if prompts is not None:
        items = _load_joined(path, str(prompts), missing, semantics)
        if not items:
            raise InputError(f"no prompt of {prompts} has a response in this file", path=path)
    else:
        items = [_item(raw, path, line, semantics) for line, raw in iter_jsonl(path)]
    if not items:
        raise InputError("no rows to verify (empty file)", path=path)
    return [it.read_reasoning(reasoning, markers) for it in items]


MISSING_RESPONSES_SKIPPED = True
"""`verify --prompts`: a prompt with no response in the response file is counted as missing and
left out of the scores (a partial run can still be scored), instead of stopping the run."""


def _load_joined(
    path: str, prompts: str, missing: list[Any] | None = None, semantics: str = "reference"
) -> list[Item]:
    # The reference maps prompt text -> response (a later duplicate wins) and walks the prompts
    # file in order; a prompt without a response is counted as missing, not a KeyError.
    responses: dict[str, str] = {}
    for line, raw in iter_jsonl(path):
        row = records.parse_row(raw, PromptResponse, path, line)
        responses[row.prompt] = row.response
    items = []
    for line, raw in iter_jsonl(prompts):
        row = records.parse_row({**raw, "response": ""}, ConstrainedResponse, prompts, line, shape="ifeval")
        if row.key is None:
            raise InputError("missing", prompts, line, "key")
        ids, checks, _ = _row_checks(row.constraints, prompts, line, semantics, ifeval=True)
        if row.prompt not in responses:
            if missing is not None:
                missing.append(row.key)
            continue
        items.append(
            Item("key", row.key, row.prompt, responses[row.prompt], ids, checks, f"{prompts}:{line}")
        )
    return items


# --------------------------------------------------------------------------------------------
# Running, in one process or several

_ITEMS: Sequence[Item] = ()  # rows handed to forked workers by inheritance (no pickling)


def _shards(items: Sequence[Item], workers: int) -> list[list[int]]:
    """Row indices per worker: rows with the same response go to the same worker.

    The per-text caches (sentences, words, language) then pay off across duplicate responses
    instead of being rebuilt in every worker; groups are balanced greedily by row count.
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        groups[it.response].append(i)
    shards: list[list[int]] = [[] for _ in range(workers)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shards, key=len).extend(group)
    for shard in shards:
        shard.sort()  # input order within a shard: neighbouring rows, neighbouring memory
    return [s for s in shards if s]


def _shard_worker(wid: int, indices: list[int], modes: tuple[Mode, ...], step: int, queue: Any) -> None:
    try:
        for lo in range(0, len(indices), step):
            part = indices[lo : lo + step]
            queue.put(
                (wid, part, [verdicts_by_mode(_ITEMS[i].checks, _ITEMS[i].response, modes) for i in part])
            )
        queue.put((wid, None, None))
    except BaseException as exc:  # report, so the parent fails instead of waiting forever
        queue.put((wid, exc, None))


def _verify_payload(
    payload: tuple[tuple[Mode, ...], list[tuple[list[Check], str]]],
) -> list[tuple[list[bool], ...]]:
    modes, rows = payload
    return [verdicts_by_mode(checks, response, modes) for checks, response in rows]


def _warm_up(items: Sequence[Item]) -> None:
    # Load the Punkt model and langdetect profiles once in the parent, so forked workers share
    # them instead of each loading its own copy.
    from followkit.constraints import ifeval, text

    needs = {ct.id for it in items for ct, _ in it.checks}
    if needs & {"length_constraints:number_sentences", "change_case:capital_word_frequency"}:
        text.count_sentences("Warm up. Now.")
    if needs & {"language:response_language", "change_case:english_capital", "change_case:english_lowercase"}:
        ifeval._lang_factory()


def verify_items(
    items: Sequence[Item],
    modes: Sequence[Mode] = MODES,
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
    chunk_size: int | None = None,
) -> dict[str, list[list[bool]]]:
    """Verdicts per mode for every item, in input order, with `workers` processes."""
    modes = tuple(modes)
    n = len(items)
    results: list[tuple[list[bool], ...] | None] = [None] * n

    def done(count: int) -> None:
        if on_progress is not None:
            on_progress(count)

    if workers <= 1 or n < 2:
        step = chunk_size or 256
        for lo in range(0, n, step):
            part = items[lo : lo + step]
            results[lo : lo + len(part)] = [verdicts_by_mode(it.checks, it.response, modes) for it in part]
            done(len(part))
    elif sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        _verify_forked(items, modes, workers, chunk_size, results, done)
    else:  # no fork (macOS/Windows): ship the rows to a spawned pool
        step = chunk_size or max(16, math.ceil(n / (workers * 8)))
        payloads = [
            (modes, [(it.checks, it.response) for it in items[lo : lo + step]]) for lo in range(0, n, step)
        ]
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for k, batch in enumerate(pool.imap(_verify_payload, payloads)):
                results[k * step : k * step + len(batch)] = batch
                done(len(batch))
    return {m: [row[j] for row in results] for j, m in enumerate(modes)}


def _verify_forked(items, modes, workers, chunk_size, results, done) -> None:
    import queue as queue_mod

    global _ITEMS
    _warm_up(items)
    shards = _shards(items, workers)
    step = chunk_size or max(16, math.ceil(len(items) / (workers * 16)))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    _ITEMS = items
    procs = [
        ctx.Process(target=_shard_worker, args=(w, s, modes, step, queue), daemon=True)
        for w, s in enumerate(shards)
    ]
    pending = set(range(len(procs)))
    try:
        # Freeze the parent's heap for the fork: the children's garbage collector then leaves
        # inherited objects alone instead of copying every page it touches.
        gc.freeze()
        try:
            for proc in procs:
                proc.start()
        finally:
            gc.unfreeze()
        while pending:
            try:
                wid, part, batch = queue.get(timeout=1.0)
            except queue_mod.Empty:
                dead = [w for w in pending if procs[w].exitcode is not None]
                if dead:
                    raise RuntimeError(f"verify worker died (exit code {procs[dead[0]].exitcode})") from None
                continue
            if part is None:
                pending.discard(wid)
            elif isinstance(part, BaseException):
                raise part
            else:
                for i, row in zip(part, batch, strict=True):
                    results[i] = row
                done(len(part))
    finally:
        _ITEMS = ()
        for proc in procs:
            if pending:  # failing: stop the others now
                proc.terminate()
            proc.join()


def default_workers() -> int:
    """A sensible default worker count: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------
# Output rows and the summary


def verdict_rows(items: Sequence[Item], results: Sequence[list[bool]]) -> list[dict]:
    """Rows in the reference's output format, with the row's key or id first."""
    return [
        {
            it.ident_field: it.ident,
            "follow_all_instructions": all(v),
            "follow_instruction_list": v,
            "instruction_id_list": it.ids,
            "prompt": it.prompt,
            "response": it.response,
            **({"reasoning": it.reasoning} if it.reasoning is not None else {}),
        }
        for it, v in zip(items, results, strict=True)
    ]


def _acc(correct: int, n: int) -> dict[str, float | int]:
    acc = correct / n if n else 0.0
    # standard error of a mean of 0/1 outcomes (sample std / sqrt(n)), as lm-eval reports
    stderr = math.sqrt(acc * (1 - acc) / (n - 1)) if n > 1 else 0.0
    return {"acc": acc, "correct": correct, "n": n, "stderr": stderr}


def summarize(items: Sequence[Item], results: Sequence[list[bool]]) -> dict[str, Any]:
    """Prompt-level, instruction-level, per-group and per-id accuracy of one mode."""
    by_id: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    inst_ok = inst_n = prompt_ok = 0
    for it, v in zip(items, results, strict=True):
        prompt_ok += all(v)
        for cid, ok in zip(it.ids, v, strict=True):
            inst_ok += ok
            inst_n += 1
            for table, k in ((by_id, cid), (by_group, cid.split(":", 1)[0])):
                table[k][0] += ok
                table[k][1] += 1
    return {
        "prompt_level": _acc(prompt_ok, len(results)),
        "instruction_level": _acc(inst_ok, inst_n),
        "groups": {k: _acc(*by_group[k]) for k in sorted(by_group)},
        "ids": {k: _acc(*by_id[k]) for k in sorted(by_id)},
    }
