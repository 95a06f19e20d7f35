"""The Benchmark interface: items to ask, and how to score the answers.

A sample record (one line of samples.jsonl) is built by the runner as
``{"id", "messages", "response", **benchmark.score(...)[i]}``. Rule-verified benchmarks add
``prompt``, ``constraints`` ([{"id", "kwargs", "text"}]), ``verdicts`` ({"strict": [bool],
"loose": [bool]}) and ``followed`` ({"strict": bool, "loose": bool}).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from followkit.backends.base import Backend, Chat
from followkit.core.stats import Metric, accuracy, mean_metric

__all__ = ["Metric", "accuracy", "mean_metric"]  # their home is followkit.core.stats


@dataclass
class EvalItem:
    """One prompt of a benchmark: the chat to send and what scoring needs.

    `messages` may start with a system message the benchmark's data carries (TRACE does);
    `--system-prompt` replaces it.
    """

    id: str
    messages: Chat
    constraints: list[dict[str, Any]] = field(default_factory=list)  # Constraint dicts, rule-verified
    meta: dict[str, Any] = field(default_factory=dict)
    # A multi-turn item's user turns, [{"prompt", "constraints"}]; `messages` asks the first.
    turns: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (data hashes)."""
        out = {"id": self.id, "messages": self.messages, "constraints": self.constraints, "meta": self.meta}
        return {**out, "turns": self.turns} if self.turns else out  # single-turn hashes stay as they were


Breakdowns = dict[str, dict[str, dict[str, Metric]]]  # table -> row -> column -> metric


class Benchmark(ABC):
    """A benchmark: loads its items, scores responses into per-sample records and metrics."""

    name: str
    needs_judge: bool = False
    semantics: str = "reference"  # how rule checkers read the benchmark (registry.SEMANTICS)
    reasoning: str = "strip"  # how a judge reads answers and its own output (followkit.core.reasoning)
    reasoning_markers: tuple[str, str] = ("<think>", "</think>")

    @abstractmethod
    def load(self, path: str | None = None) -> list[EvalItem]:
        """The benchmark's items, from the given path or the built-in/default source."""

    @abstractmethod
    def score(
        self, items: list[EvalItem], responses: list[str], judge: Backend | None = None
    ) -> list[dict[str, Any]]:
        """One sample record per item (response, per-constraint verdicts, ...).

        A record {"error": "..."} marks an item that could not be scored (a judge call failed):
        the runner reports it in failures.jsonl and a rerun scores it again.
        """

    @abstractmethod
    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        """Named metrics over the scored samples."""

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        """Optional tables for the report (per id, per TRACE type, by number of constraints)."""
        return {}


class MultiTurnBenchmark(Benchmark):
    """A benchmark of conversations: the runner asks each item's turns one by one, with the model's own
    earlier answers in context, then scores the whole conversation with `score_turns`.

    Turn k is asked as the chat so far plus ``{"role": "user", "content": item.turns[k]["prompt"]}``.
    A sample record holds the full conversation in ``messages``, the last answer in ``response``, and
    ``turns``: one dict per turn with the runner's ``response`` (and ``reasoning``, ``reasoning_status``)
    merged into what `score_turns` returned for that turn.
    """

    def user_turn(self, item: EvalItem, k: int) -> dict[str, str]:
        """The user message of turn k (0-based) of a conversation."""
        return {"role": "user", "content": item.turns[k]["prompt"]}

    @abstractmethod
    def score_turns(
        self, items: list[EvalItem], answers: list[list[str]], judge: Backend | None = None
    ) -> list[dict[str, Any]]:
        """One record per conversation; its "turns" list has one scored dict per answer."""

    def score(
        self, items: list[EvalItem], responses: list[str], judge: Backend | None = None
    ) -> list[dict[str, Any]]:
        """Single-answer scoring does not apply: the runner calls `score_turns`."""
        raise NotImplementedError(f"{self.name} is multi-turn: score with score_turns")


def _trace_type(cid: str) -> str:
    """The TRACE type of a registered constraint id ('other' for ids outside the registry)."""
    from followkit.constraints import registry
    from followkit.constraints.taxonomy import DIMENSIONS

    ct = registry.registry().get(cid)
    return DIMENSIONS[ct.dimension].type if ct is not None else "other"


class RuleBenchmark(Benchmark):
    """A benchmark whose constraints are all rule-verified (IFEval, IFBench, followkit-bench).

    Scores strict and loose verdicts per constraint with `followkit.constraints.verify.check_all`
    and reports IFEval's four accuracies (lm-eval's metric names).
    """

    def score(
        self, items: list[EvalItem], responses: list[str], judge: Backend | None = None
    ) -> list[dict[str, Any]]:
        from followkit.constraints.verify import check_all

        out = []
        for item, response in zip(items, responses, strict=True):
            pairs = [(c["id"], c.get("kwargs") or {}) for c in item.constraints]
            prompt = item.messages[-1]["content"]
            strict = check_all(pairs, response, mode="strict", prompt=prompt, semantics=self.semantics)
            loose = check_all(pairs, response, mode="loose", prompt=prompt, semantics=self.semantics)
            out.append(
                {
                    "prompt": prompt,
                    "constraints": item.constraints,
                    "verdicts": {"strict": strict, "loose": loose},
                    "followed": {"strict": all(strict), "loose": all(loose)},
                    **({"meta": item.meta} if item.meta else {}),
                }
            )
        return out

    def metrics(self, samples: list[dict[str, Any]]) -> dict[str, Metric]:
        out = {}
        for mode in ("strict", "loose"):
            out[f"prompt_level_{mode}_acc"] = accuracy([s["followed"][mode] for s in samples])
            out[f"inst_level_{mode}_acc"] = accuracy([v for s in samples for v in s["verdicts"][mode]])
        return out

    def breakdowns(self, samples: list[dict[str, Any]]) -> Breakdowns:
        by_id: dict[str, dict[str, list[bool]]] = defaultdict(lambda: {"strict": [], "loose": []})
        by_type: dict[str, dict[str, list[bool]]] = defaultdict(lambda: {"strict": [], "loose": []})
        by_k: dict[int, dict[str, list[bool]]] = defaultdict(lambda: {"strict": [], "loose": []})
        types: dict[str, str] = {}
        for s in samples:
            k = len(s["constraints"])
            for mode in ("strict", "loose"):
                by_k[k][mode].append(s["followed"][mode])
                for c, v in zip(s["constraints"], s["verdicts"][mode], strict=True):
                    by_id[c["id"]][mode].append(v)
                    if c["id"] not in types:
                        types[c["id"]] = _trace_type(c["id"])
                    by_type[types[c["id"]]][mode].append(v)

        def table(groups: dict[Any, dict[str, list[bool]]]) -> dict[str, dict[str, Metric]]:
            return {
                str(k): {m: accuracy(v[m]) for m in ("strict", "loose")} for k, v in sorted(groups.items())
            }

        return {
            "instruction-level accuracy by constraint id": table(by_id),
            "instruction-level accuracy by TRACE type": table(by_type),
            "prompt-level accuracy by number of constraints": table(by_k),
        }
