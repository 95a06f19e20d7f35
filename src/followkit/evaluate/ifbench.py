"""IFBench (Pyatkin et al. 2025): unseen verifiable constraints, local JSONL in IFEval's row format.

Two forms: the test set (`ifbench:PATH`, IFBench_test.jsonl) and its multi-turn form
(`ifbench-multiturn:PATH`, the Hugging Face dataset allenai/IFBench_multi-turn, "constraint
isolation in 2 turns"). A multi-turn row is an IFBench row (`key`, `prompt`,
`instruction_id_list`, `kwargs`: every kwarg name of every id, mostly null, whole numbers possibly
written as floats) plus `messages`: the user's request without its constraint, an assistant answer
to it, and a last user turn that states the constraint. The model answers that last turn with the
two earlier ones in context (the given answer is not regenerated); IFBench's checkers score the
answer against the row's constraints, as on the test set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from followkit.core.errors import InputError
from followkit.core.io import iter_jsonl, require
from followkit.evaluate.base import EvalItem, RuleBenchmark
from followkit.evaluate.ifeval import ifeval_items

_ROLES = ("system", "user", "assistant")


class IFBenchBenchmark(RuleBenchmark):
    """IFBench: the same rows as IFEval (key, prompt, instruction_id_list, kwargs), IFBench ids."""

    name = "ifbench"

    def load(self, path: str | None = None) -> list[EvalItem]:
        if not path:
            raise InputError(
                "ifbench reads a local file: --benchmark ifbench:PATH (IFBench_test.jsonl, one "
                "key/prompt/instruction_id_list/kwargs object per line)"
            )
        return ifeval_items(iter_jsonl(path), path)


def given_turns(rec: dict[str, Any], where: str, line: int | None) -> list[dict[str, str]]:
    """A multi-turn row's `messages`: [system], then user and assistant alternating, ending with the user turn to answer."""
    msgs = require(rec, "messages", list, where, line)
    out: list[dict[str, str]] = []
    for i, m in enumerate(msgs):
        at = f"messages[{i}]"
        if not isinstance(m, dict):
            raise InputError(f"expected an object, got {type(m).__name__}", where, line, at)
        role, content = m.get("role"), m.get("content")
        if role not in _ROLES or (role == "system" and i > 0):
            want = "system, user or assistant" if i == 0 else "user or assistant"
            why = "missing" if role is None else f"role {role!r}, expected {want}"
            raise InputError(why, where, line, f"{at}.role")
        if not isinstance(content, str) or not content.strip():
            raise InputError("expected non-empty text", where, line, f"{at}.content")
        turn = len(out) - (1 if out and out[0]["role"] == "system" else 0)
        if role != "system" and role != ("user", "assistant")[turn % 2]:
            raise InputError(
                f"role {role!r}, expected {('user', 'assistant')[turn % 2]!r} (turns alternate, user first)",
                where,
                line,
                f"{at}.role",
            )
        out.append({"role": role, "content": content})
    asked = [m for m in out if m["role"] != "system"]
    if len(asked) < 3 or asked[-1]["role"] != "user":
        last = repr(asked[-1]["role"]) if asked else "none"
        raise InputError(
            f"expected earlier turns and a last user turn to answer (user, assistant, user), got {len(asked)} "
            f"turn(s) ending with {last}; a single-turn row is --benchmark ifbench:PATH",
            where,
            line,
            "messages",
        )
    return out


def _parquet_rows(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a Parquet file (the hub's copy), numbered from 1 as lines are."""
    try:
        import pyarrow.parquet as pq  # comes with `datasets` (the ml extra)
    except ImportError:
        raise InputError("reading Parquet needs pyarrow (pip install followkit[ml])", path=path) from None
    if not Path(path).is_file():
        raise InputError("no such file", path=path)
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises its own types for a file that is not Parquet
        raise InputError(f"not a readable Parquet file ({type(exc).__name__})", path=path) from None
    return enumerate(rows, start=1)


class IFBenchMultiTurnBenchmark(RuleBenchmark):
    """IFBench's multi-turn form: the constraint comes in a second user turn, after a given first answer."""

    name = "ifbench-multiturn"

    def load(self, path: str | None = None) -> list[EvalItem]:
        if not path:
            raise InputError(
                "ifbench-multiturn reads a local file: --benchmark ifbench-multiturn:PATH (allenai/IFBench_multi-turn "
                "as JSONL or Parquet: key/prompt/instruction_id_list/kwargs/messages per row)"
            )
        rows = _parquet_rows(path) if path.endswith(".parquet") else iter_jsonl(path)
        return ifeval_items(rows, path, chat=given_turns)
