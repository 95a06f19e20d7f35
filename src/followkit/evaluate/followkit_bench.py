"""followkit-bench: the project's own ~300 verifiable complex instructions (English and Chinese)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import ValidationError

from followkit.core.errors import InputError
from followkit.core.io import iter_jsonl
from followkit.core.records import Instruction
from followkit.core.stats import accuracy
from followkit.evaluate.base import Breakdowns, EvalItem, RuleBenchmark
from followkit.evaluate.ifeval import validate_constraints


def instruction_item(inst: Instruction) -> EvalItem:
    """An EvalItem for a followkit Instruction: its prompt as the user turn, its constraints verified."""
    return EvalItem(
        id=inst.id,
        messages=[{"role": "user", "content": inst.prompt}],
        constraints=[{"id": c.id, "kwargs": c.kwargs, "text": c.text} for c in inst.constraints],
        meta={"language": inst.language},
    )


class FollowkitBench(RuleBenchmark):
    """The built-in benchmark (or any Instruction JSONL given as followkit-bench:PATH)."""

    name = "followkit-bench"

    def load(self, path: str | None = None) -> list[EvalItem]:
        if path is None:
            from followkit.synth.bench import bench_instructions

            return [instruction_item(i) for i in bench_instructions()]
        items = []
        seen: dict[str, int] = {}
        for line, rec in iter_jsonl(path):
            try:
                inst = Instruction.model_validate(rec)
            except ValidationError as exc:
                raise InputError.from_validation(exc, path=path, line=line) from None
            if inst.id in seen:
                raise InputError(
                    f"duplicate id '{inst.id}' (also on line {seen[inst.id]})",
                    path=path,
                    line=line,
                    field="id",
                )
            seen[inst.id] = line
            validate_constraints(
                [c.id for c in inst.constraints], [c.kwargs for c in inst.constraints], path, line
            )
            items.append(instruction_item(inst))
        if not items:
            raise InputError("no items", path=path)
        return items

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        out = super().breakdowns(samples)
        by_lang: dict[str, dict[str, list[bool]]] = defaultdict(lambda: {"strict": [], "loose": []})
        for s in samples:
            lang = (s.get("meta") or {}).get("language", "?")
            for mode in ("strict", "loose"):
                by_lang[lang][mode].append(s["followed"][mode])
        out["prompt-level accuracy by language"] = {
            k: {m: accuracy(v[m]) for m in ("strict", "loose")} for k, v in sorted(by_lang.items())
        }
        return out
