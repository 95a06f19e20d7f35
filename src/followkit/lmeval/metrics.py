"""followkit's rule checkers as lm-evaluation-harness metrics.

`followkit export lm-eval DIR` copies this file to DIR/followkit_lm_eval.py, next to the task YAML
that names `followkit_lm_eval.process_results` and `followkit_lm_eval.agg_inst_level_acc`. It
imports followkit (installed in the environment that runs lm_eval), so a verdict here is the
verdict `followkit eval` gives the same response: the same checkers, strict and loose, with the
benchmark authors' reading (`--semantics reference`).

Rows are IFEval's (`key`, `prompt`, `instruction_id_list`, `kwargs`); followkit-bench's export stores
kwargs as a JSON string (`kwargs_json`) because its constraint kwargs differ in type between ids.
"""

from __future__ import annotations

import json
from typing import Any

SEMANTICS = "reference"
"""How the checkers read IFEval / IFBench ids: as the benchmark authors' code does (followkit's default)."""


def constraint_pairs(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(id, kwargs) per instruction of a row; null kwargs dropped, as `followkit eval` reads IFEval rows."""
    kwargs = json.loads(doc["kwargs_json"]) if doc.get("kwargs_json") else doc["kwargs"]
    return [
        (cid, {k: v for k, v in (kw or {}).items() if v is not None})
        for cid, kw in zip(doc["instruction_id_list"], kwargs, strict=True)
    ]


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, Any]:
    """lm-eval's per-sample metrics: prompt-level bools and instruction-level lists, strict and loose."""
    from followkit.constraints.verify import check_all

    pairs = constraint_pairs(doc)
    strict = check_all(pairs, results[0], mode="strict", semantics=SEMANTICS)
    loose = check_all(pairs, results[0], mode="loose", semantics=SEMANTICS)
    return {
        "prompt_level_strict_acc": all(strict),
        "inst_level_strict_acc": strict,
        "prompt_level_loose_acc": all(loose),
        "inst_level_loose_acc": loose,
    }


def agg_inst_level_acc(items: list[list[bool]]) -> float:
    """Instruction-level accuracy: the micro-average over every instruction of every prompt."""
    flat = [v for item in items for v in item]
    return sum(flat) / len(flat)
