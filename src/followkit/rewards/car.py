"""Rewards of teacher responses for CAR: verifier pass rate, judge score, or a reward model.

Every reward returns one value per response in [0, 1] (or None when that response cannot be
scored: no rule-checkable constraint, an unparsable judge verdict), so the mean reward r of a
teacher is positive-or-zero and CAR = r / (1 + beta * L) ranks consistently.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from followkit.core.errors import InputError
from followkit.rewards.core import JUDGE_SCALE, judge_scores, rule_score, rule_verdicts

RM_POSITIVITY = "sigmoid"
"""Policy: a reward model's logit z becomes sigmoid(z) in (0, 1) before averaging.

CAR divides a reward by a loss, so r must be positive. A min-shift over teachers (r - min + eps)
would depend on which teachers are compared and push the worst one to ~0; sigmoid is per
response, keeps the order of logits, and reads as the Bradley-Terry probability that the response
beats a reward-0 response. The raw mean logit is reported beside it.
"""


@dataclass
class RewardInput:
    """What a reward needs of one teacher response."""

    query: str  # the last user turn
    chat: list[dict[str, str]]  # the prompt chat (without the response)
    response: str
    constraints: list[dict[str, Any]] = field(default_factory=list)  # {"id", "kwargs", "text"}
    where: str = ""  # "file:line", for errors


class Reward(Protocol):
    """Maps responses to rewards in [0, 1] (None = not scorable)."""

    name: str
    positivity: str

    def __call__(self, items: list[RewardInput]) -> list[float | None]: ...

    def raw(self) -> list[float | None]: ...


class VerifierReward:
    """Fraction of a response's rule-checkable constraints it follows (strict verifier)."""

    name = "verifier"
    positivity = "none needed: a fraction of constraints followed is already in [0, 1]"

    def __init__(self, mode: str = "strict"):
        if mode not in ("strict", "loose"):
            raise ValueError(f"mode must be 'strict' or 'loose', not {mode!r}")
        self.mode = mode
        self._raw: list[float | None] = []
        self.skipped_constraints = 0

    def __call__(self, items: list[RewardInput]) -> list[float | None]:
        from followkit.constraints import registry
        from followkit.constraints.verify import parse_checks

        known = registry.registry()
        out: list[float | None] = []
        for it in items:
            if not it.constraints:
                path, _, line = it.where.rpartition(":")
                raise InputError(
                    "the verifier reward needs each response's constraints (a 'constraints' list or "
                    "IFEval 'instruction_id_list' + 'kwargs')",
                    path=path or None,
                    line=int(line) if line.isdigit() else None,
                    field="constraints",
                )
            pairs = [(c["id"], c.get("kwargs") or {}) for c in it.constraints if c["id"] in known]
            # Constraints no rule decides (judged TRACE dimensions) are left to --reward judge:MODEL.
            self.skipped_constraints += len(it.constraints) - len(pairs)
            if not pairs:
                out.append(None)
                continue
            out.append(rule_score(rule_verdicts(parse_checks(pairs), it.response, self.mode == "loose")))
        self._raw = list(out)
        return out

    def raw(self) -> list[float | None]:
        return self._raw


class JudgeReward:
    """A judge model's overall 0-10 score of the response against its constraints, divided by 10."""

    name = "judge"
    positivity = "none needed: overall score / 10 is in [0, 1]"

    def __init__(self, backend: Any):
        self.backend = backend
        self._raw: list[float | None] = []
        self.unparsable = 0

    def __call__(self, items: list[RewardInput]) -> list[float | None]:
        from followkit.judges.trace import JudgeRequest

        reqs = []
        for it in items:
            texts = [c.get("text") or c["id"] for c in it.constraints]
            if not texts:
                # Without listed constraints the judge rates the response against the query itself.
                texts = ["Answer the request completely and correctly."]
            reqs.append(JudgeRequest(query=it.query, constraints=texts, response=it.response))
        # A verdict with constraint scores only scores their mean.
        out = judge_scores(self.backend, reqs, from_scores=True)
        self.unparsable += out.count(None)
        self._raw = [None if x is None else x * JUDGE_SCALE for x in out]
        return out

    def raw(self) -> list[float | None]:
        return self._raw


def is_sequence_classifier(path: str | Path) -> tuple[bool, str]:
    """Whether a local model folder is a sequence-classification model, and its architecture names."""
    import json

    cfg_file = Path(path) / "config.json"
    if not cfg_file.exists():
        raise InputError("not a model folder (no config.json)", path=str(path))
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed config.json ({exc.msg})", path=str(cfg_file)) from None
    archs = cfg.get("architectures") or []
    return any(str(a).endswith("ForSequenceClassification") for a in archs), ", ".join(archs) or "none"


class RewardModelReward:
    """A transformers sequence-classification reward model (one logit per response), squashed by sigmoid."""

    name = "rm"
    positivity = f"{RM_POSITIVITY}(logit): per response, order-preserving, in (0, 1)"

    def __init__(
        self, path: str | Path, batch_size: int = 8, max_length: int = 2048, device: str | None = None
    ):
        ok, archs = is_sequence_classifier(path)
        if not ok:
            raise InputError(
                f"not a sequence-classification reward model (architectures: {archs}); "
                "--reward rm:PATH needs a *ForSequenceClassification model with one label",
                path=str(path),
            )
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
        if self.model.config.num_labels != 1:
            raise InputError(
                f"a reward model has one output label; this one has {self.model.config.num_labels}",
                path=str(path),
            )
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tok.pad_token_id
        if device:
            self.model.to(device)
        self.model.eval()
        self.batch_size, self.max_length = batch_size, max_length
        self._raw: list[float | None] = []

    def text(self, it: RewardInput) -> str:
        """The text the reward model reads: the chat with the response, in its own chat template."""
        chat = [*it.chat, {"role": "assistant", "content": it.response}]
        if getattr(self.tok, "chat_template", None):
            return self.tok.apply_chat_template(chat, tokenize=False)
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in chat)

    def __call__(self, items: list[RewardInput]) -> list[float | None]:
        import torch

        logits: list[float] = []
        for i in range(0, len(items), self.batch_size):
            texts = [self.text(it) for it in items[i : i + self.batch_size]]
            enc = self.tok(
                texts,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=False,
            ).to(self.model.device)
            with torch.no_grad():
                logits += self.model(**enc).logits[:, 0].float().tolist()
        self._raw = list(logits)
        return [1.0 / (1.0 + math.exp(-z)) for z in logits]

    def raw(self) -> list[float | None]:
        return self._raw


def load_reward(spec: str, load_judge: Callable[[str], Any] | None = None) -> Reward:
    """'verifier', 'judge:MODEL' or 'rm:PATH' -> a Reward; `load_judge(MODEL)` makes the judge's backend."""
    kind, _, arg = spec.partition(":")
    if kind == "verifier" and not arg:
        return VerifierReward()
    if kind == "judge" and arg:
        if load_judge is None:
            from followkit.backends import load_backend

            load_judge = load_backend
        return JudgeReward(load_judge(arg))
    if kind == "rm" and arg:
        return RewardModelReward(arg)
    raise InputError(f"unknown --reward '{spec}': use verifier, judge:MODEL or rm:PATH")
