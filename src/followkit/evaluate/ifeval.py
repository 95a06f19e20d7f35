"""IFEval: 541 prompts with verifiable instructions, from a local JSONL or the HF dataset google/IFEval."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from followkit.core.errors import ConstraintError, InputError
from followkit.core.io import iter_jsonl, require
from followkit.evaluate.base import EvalItem, RuleBenchmark

HF_DATASET = "google/IFEval"
HUB_PROBE_TIMEOUT_S = 5.0


def validate_constraints(cids: list[str], kwargs: list[dict], where: str, line: int | None) -> None:
    """Fail before any model call on an unknown id or kwargs its checker rejects."""
    from followkit.constraints import registry

    for cid, kw in zip(cids, kwargs, strict=True):
        try:
            registry.get(cid).parse_kwargs(kw)
        except ConstraintError as exc:
            raise InputError(str(exc), path=where, line=line, field="instruction_id_list") from None


ChatReader = Callable[[dict[str, Any], str, int | None], list[dict[str, str]]]
"""Reads the chat to send from one row (naming file, line and field in its errors)."""


def prompt_chat(rec: dict[str, Any], where: str, line: int | None) -> list[dict[str, str]]:
    """The chat of an IFEval row: its `prompt` as the one user message."""
    return [{"role": "user", "content": require(rec, "prompt", str, where, line)}]


def ifeval_items(
    rows: Iterable[tuple[int | None, dict[str, Any]]], where: str, chat: ChatReader = prompt_chat
) -> list[EvalItem]:
    """EvalItems from IFEval-format rows (key, prompt, instruction_id_list, kwargs); `chat` reads what is asked."""
    items: list[EvalItem] = []
    seen: set[str] = set()
    for line, rec in rows:
        key = require(rec, "key", (int, str), where, line)
        messages = chat(rec, where, line)
        cids = require(rec, "instruction_id_list", list, where, line)
        kwargs = require(rec, "kwargs", list, where, line)
        if len(cids) != len(kwargs):
            raise InputError(
                f"{len(cids)} instruction ids but {len(kwargs)} kwargs", path=where, line=line, field="kwargs"
            )
        if not all(isinstance(c, str) for c in cids):
            raise InputError("expected a list of strings", path=where, line=line, field="instruction_id_list")
        if not all(isinstance(k, dict) or k is None for k in kwargs):
            raise InputError("expected a list of objects", path=where, line=line, field="kwargs")
        # The HF copy fills every kwarg name with null; the checker takes only the given ones.
        kwargs = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in kwargs]
        validate_constraints(cids, kwargs, where, line)
        if str(key) in seen:
            raise InputError(f"duplicate key {key}", path=where, line=line, field="key")
        seen.add(str(key))
        items.append(
            EvalItem(
                id=str(key),
                messages=messages,
                constraints=[{"id": c, "kwargs": k} for c, k in zip(cids, kwargs, strict=True)],
            )
        )
    if not items:
        raise InputError("no items", path=where)
    return items


def hub_reachable(endpoint: str | None = None) -> bool:
    """True when the Hugging Face hub answers (and offline mode is not set)."""
    if any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    ):
        return False
    import httpx

    base = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    try:
        return httpx.head(f"{base}/api/datasets/{HF_DATASET}", timeout=HUB_PROBE_TIMEOUT_S).status_code < 500
    except httpx.HTTPError:
        return False


class IFEvalBenchmark(RuleBenchmark):
    """IFEval (Zhou et al. 2023): strict and loose prompt- and instruction-level accuracy."""

    name = "ifeval"

    def load(self, path: str | None = None) -> list[EvalItem]:
        if path:
            return ifeval_items(iter_jsonl(path), path)
        if not hub_reachable():
            raise InputError(
                f"the Hugging Face hub is not reachable to fetch {HF_DATASET}: pass a local copy, "
                "--benchmark ifeval:PATH/input_data.jsonl (IFEval's key/prompt/instruction_id_list/kwargs JSONL)"
            )
        from datasets import load_dataset

        ds = load_dataset(HF_DATASET, split="train")
        return ifeval_items(((i, dict(r)) for i, r in enumerate(ds, start=1)), f"hf://{HF_DATASET}")
