"""SPRIG system-prompt optimization (arXiv 2410.14826): edit-based search over prompt components.

Input/Output:
    `sprig_search`: a backend (the model whose system prompt is tuned), a Benchmark and its items, a
    component corpus -> `SprigResult`: the winning prompt with its train / validation / held-out
    scores, the empty-prompt baseline on the same samples, every scored candidate, per-round
    statistics. `run_sprig(cfg)` loads all of these from a SprigConfig and writes the result to
    cfg.out (best.txt, leaderboard.jsonl/csv, score_by_round.png, sprig.json, manifest.json).

A system prompt is an ordered tuple of component ids; its text is the components' texts joined by
a space. Two searches share the edit operations:

- beam (`algorithm="beam"`): start from the empty prompt; each round every beam member proposes
  children by inserting each of the `n_add` components of highest UCB = mean credit +
  c * sqrt(2 ln N / n) (N credits given so far, n to this component; an untried component ranks
  first) at every position, as the authors' code does; `n_delete` by deleting a component,
  `n_swap` by swapping two components' positions and `n_rephrase` by replacing a component with
  a rephrasing made by a model. The children are scored on the round's training sample and the
  best `beam` children survive (the authors keep children only; the parents survive only a round
  that made no child).
- genetic (`algorithm="ga"`): a population of `beam` prompts (the empty prompt and single
  components picked by UCB); each round the worse half is dropped and the survivors breed
  children by crossover (a head of one parent and a tail of another), merge (one parent's
  components followed by the other's new ones), add, delete, swap and rephrase.

Credit: adding component c to a parent and scoring s_child credits c with s_child - s_parent;
deleting c credits it with s_parent - s_child (what its presence was worth). As in the authors'
code, the arms of UCB are the corpus components: a rephrasing's credits (when it is deleted)
count for the component it rephrases, the add operation picks corpus components only, and a
rephrase edit is not credited.

Training sample: each round scores its candidates on a fresh sample of `train` items drawn from a
pool of `train_pool` items with a generator seeded by (seed, round), as the authors re-draw their
questions each round; `train_pool` equal to `train` gives a fixed sample. Parents were scored on
an earlier round's sample, and credits compare with that score, as the authors' code does.
Departures from the authors' code are rows of followkit.evaluate.deviations.DEVIATIONS.

Budget: `budget` counts the model calls of the search itself, one per benchmark item scored and
one per rephrasing, whether or not the shared request cache answers it, so a rerun over a warm
cache takes the same path. The final choice costs extra calls, reported apart: the `finalists`
best candidates by training score are scored on the validation sample, the winner is the best
there, and the winner and the empty prompt are scored on the held-out sample.

Resume: every model call goes through the backend's shared request cache, so a killed run rerun
with the same arguments replays its finished calls from the cache and continues.

References: Zhang et al., "SPRIG: Improving Large Language Model Performance by System Prompt
Optimization", arXiv 2410.14826; Auer et al. 2002 for UCB1.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from followkit.backends.base import Backend, Chat, SamplingParams
from followkit.core.errors import InputError
from followkit.core.settings import Cache, RefreshCache, cli
from followkit.evaluate.base import Benchmark, EvalItem
from followkit.optimize.corpus import Component

OPS_BEAM = ("add", "delete", "swap", "rephrase")
OPS_GA = ("crossover", "merge", "add", "delete", "swap", "rephrase")
JOINER = " "  # components are sentences; one space keeps them one paragraph, as SPRIG builds them


# Departures from the authors' code (orange0629/prompting, scripts/sprig.py); each is a row of
# followkit.evaluate.deviations.METHOD_DEVIATIONS (docs/deviations.md).

AUTHORS_ADD_TOP_K = 60
"""Deviation: the authors insert each of the 60 components of highest UCB at every position;
followkit inserts the `n_add` (default 3) of highest UCB, to fit a call budget. --n-add 60 matches."""

SAMPLED_DELETE_SWAP = True
"""Deviation: delete and swap children are sampled (`n_delete` positions, `n_swap` random pairs per
member); the authors make every deletion and every swap, k + k(k-1)/2 scorings for k components."""

REPHRASE_BY_MODEL = True
"""Deviation: a rephrasing is one rewrite by an instruction model at temperature 0, at `n_rephrase`
sampled positions; the authors draw 10 Pegasus paraphrases at every position."""

SCORE_ONCE = True
"""Deviation: a prompt is scored once, on the sample of the round that first proposed it; the
authors score it again (on the new sample) whenever a later round proposes it again."""

VALIDATED_WINNER = True
"""Deviation: the winner is the best of the `finalists` top training candidates on a validation
sample, scored once more on held-out items; the authors report the beam's test score each round."""

GA_FROM_THE_PAPER = True
"""Deviation: the genetic variant follows the paper's description (crossover, merge, add, delete,
swap, rephrase); it was not compared with the authors' genetic-algorithm scripts."""


class SprigConfig(BaseModel):
    """Settings of one SPRIG run."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        "embedded",
        description="The model to tune for: embedded | hf:PATH | openai:NAME | vllm:PATH",
        json_schema_extra=cli("--model", "-m"),
    )
    benchmark: str = Field(
        "followkit-bench",
        description="NAME[:PATH] of the benchmark that scores candidates",
        json_schema_extra=cli("--benchmark", "-b"),
    )
    algorithm: Literal["beam", "ga"] = Field("beam", description="beam search or the genetic variant")
    beam: int = Field(10, ge=1, description="beam width (population size for ga)")
    rounds: int = Field(3, ge=1, description="search rounds (generations for ga)")
    budget: int | None = Field(None, ge=1, description="model calls the search may make (None: no cap)")
    n_add: int = Field(3, ge=0, description="add-children per beam member per round")
    n_delete: int = Field(1, ge=0, description="delete-children per beam member per round")
    n_swap: int = Field(1, ge=0, description="swap-children per beam member per round")
    n_rephrase: int = Field(1, ge=0, description="rephrase-children per beam member per round")
    max_components: int = Field(10, ge=1, description="longest prompt, in components")
    ucb_c: float = Field(1.0, ge=0, description="weight of the UCB exploration term")
    train: int = Field(
        20,
        ge=1,
        description="training items: each round's candidates are scored on a fresh sample of this many",
    )
    train_pool: int | None = Field(
        None, ge=1, description="items the training sample is re-drawn from each round (default: 2 x train)"
    )
    val: int = Field(20, ge=1, description="validation items (the winner is chosen on these)")
    heldout: int = Field(50, ge=0, description="held-out items (0: all items left)")
    finalists: int | None = Field(None, ge=1, description="candidates validated (default: beam)")
    max_tokens: int = Field(256, ge=1, description="max new tokens per answer")
    seed: int = Field(0, description="seed of the item split and of the search's random choices")
    metric: str | None = Field(
        None,
        description="benchmark metric to maximise (default: inst_level_strict_acc where reported, else its first)",
    )
    components: list[str] = Field(
        default_factory=list, description="Extra components JSONL ({id, category, lang, text}), repeatable"
    )
    lang: Literal["en", "zh", "all"] = Field("all", description="Components to use")
    rephrase_model: str | None = Field(None, description="Model that rephrases components (default: --model)")
    judge: str | None = Field(None, description="Judge model spec, for judged benchmarks (trace)")
    base_url: str | None = Field(
        None, description="Server URL for every openai:NAME model: --model, --rephrase-model and --judge"
    )
    cache: Cache = True
    refresh_cache: RefreshCache = False
    out: str = Field("runs/sprig", description="Output folder", json_schema_extra=cli("--out", "-o"))

    @model_validator(mode="after")
    def _check(self) -> SprigConfig:
        if self.n_add + self.n_delete + self.n_swap + self.n_rephrase == 0:
            raise ValueError("at least one edit operation needs a count above 0")
        if self.train_pool is not None and self.train_pool < self.train:
            raise ValueError(f"train_pool ({self.train_pool}) must be at least train ({self.train})")
        return self

    @property
    def pool_size(self) -> int:
        """Items the per-round training sample is drawn from."""
        return self.train_pool if self.train_pool is not None else 2 * self.train


@dataclass
class Candidate:
    """A scored system prompt and how the search made it."""

    components: tuple[str, ...]
    text: str
    train: float
    round: int
    op: str
    parent: tuple[str, ...] | None
    val: float | None = None
    heldout: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A leaderboard row."""
        return {
            "prompt": self.text,
            "components": list(self.components),
            "n_components": len(self.components),
            "train": self.train,
            "val": self.val,
            "heldout": self.heldout,
            "round": self.round,
            "op": self.op,
            "parent": list(self.parent) if self.parent is not None else None,
        }


@dataclass
class SprigResult:
    """What a run found: the winner, the empty-prompt baseline, all candidates, per-round stats."""

    best: Candidate
    baseline: Candidate
    candidates: list[Candidate]
    rounds: list[dict[str, Any]]
    components: dict[str, Component]
    credits: dict[str, list[float]]
    metric: str
    split_sizes: dict[str, int]
    search_calls: int
    eval_calls: int
    budget_exhausted: bool
    config: SprigConfig

    def leaderboard(self) -> list[Candidate]:
        """Candidates by validation score (validated first), then training score."""
        return sorted(
            self.candidates,
            key=lambda c: (c.val is None, -(c.val or 0.0), -c.train, len(c.components), c.text),
        )

    def summary(self) -> dict[str, Any]:
        """The JSON summary (sprig.json)."""
        comps = {cid: self.components[cid].to_dict() for cid in self.best.components}
        tried = {cid: v for cid, v in self.credits.items() if v}
        top = sorted(tried, key=lambda cid: -sum(tried[cid]) / len(tried[cid]))[:15]
        return {
            "algorithm": self.config.algorithm,
            "metric": self.metric,
            "best": {
                "prompt": self.best.text,
                "components": [comps[c] for c in self.best.components],
                "train": self.best.train,
                "val": self.best.val,
                "heldout": self.best.heldout,
                "round": self.best.round,
            },
            "baseline_empty_prompt": {
                "train": self.baseline.train,
                "val": self.baseline.val,
                "heldout": self.baseline.heldout,
            },
            "split_sizes": self.split_sizes,
            "rounds": self.rounds,
            "n_candidates": len(self.candidates),
            "search_calls": self.search_calls,
            "eval_calls": self.eval_calls,
            "budget": self.config.budget,
            "budget_exhausted": self.budget_exhausted,
            "top_components_by_credit": [
                {
                    "id": cid,
                    "text": self.components[cid].text,
                    "mean_credit": sum(tried[cid]) / len(tried[cid]),
                    "n": len(tried[cid]),
                }
                for cid in top
            ],
            "config": self.config.model_dump(),
        }


def split_items(
    items: list[EvalItem], n_train: int, n_val: int, n_heldout: int, seed: int
) -> tuple[list[EvalItem], list[EvalItem], list[EvalItem]]:
    """Disjoint training pool / validation / held-out samples drawn with a seeded shuffle."""
    if n_train + n_val + 1 > len(items):
        raise InputError(
            f"the benchmark has {len(items)} items: too few for {n_train} training pool + {n_val} val + "
            "at least 1 held-out (lower --train / --train-pool / --val)"
        )
    order = list(items)
    random.Random(seed).shuffle(order)
    train, val = order[:n_train], order[n_train : n_train + n_val]
    rest = order[n_train + n_val :]
    heldout = rest if n_heldout == 0 else rest[:n_heldout]
    return train, val, heldout


def with_system(system: str, messages: Chat) -> Chat:
    """The item's chat under a system prompt: it replaces a system turn the data carries.

    This is what `followkit eval --system-prompt` does, so the score SPRIG reports for a prompt
    is the score `eval` reproduces with it. The empty prompt leaves the chat as the data has it.
    """
    if not system:
        return [dict(m) for m in messages]
    return [{"role": "system", "content": system}, *(dict(m) for m in messages if m["role"] != "system")]


PREFERRED_METRICS: tuple[str, ...] = ("inst_level_strict_acc",)
"""Policy: the metric SPRIG maximises when --metric is not given, if the benchmark reports it.

Instruction-level accuracy moves when one more constraint of a prompt is followed; prompt-level
accuracy moves only when all are, which on a training sample of a few prompts and a small model
is almost always 0 for every candidate and gives the search no signal. Otherwise the
benchmark's `primary_metric` attribute, else its first metric.
"""


def default_metric(benchmark: Benchmark, metrics: dict[str, Any]) -> str:
    """The metric to maximise when none is named (see PREFERRED_METRICS)."""
    for name in PREFERRED_METRICS:
        if name in metrics:
            return name
    return getattr(benchmark, "primary_metric", None) or next(iter(metrics))


class Evaluator:
    """Scores a system prompt on a list of items with one benchmark metric; counts model calls."""

    def __init__(
        self,
        backend: Backend,
        benchmark: Benchmark,
        params: SamplingParams,
        metric: str | None = None,
        judge: Backend | None = None,
    ):
        self.backend, self.benchmark, self.params, self.judge = backend, benchmark, params, judge
        self.metric = metric
        self.calls = 0
        self.failed = 0
        self.judge_failed = 0

    def score(self, system: str, items: list[EvalItem]) -> float:
        """The metric of the model's answers to `items` under `system`; a failed answer scores as ''."""
        chats = [with_system(system, it.messages) for it in items]
        completions = self.backend.complete(chats, self.params)
        self.calls += len(items)
        responses = []
        for c in completions:
            if c.ok and c.texts:
                responses.append(c.texts[0])
            else:
                self.failed += 1
                responses.append("")  # an unanswered item follows nothing
        # Positional, as the eval runner passes it: benchmarks name this parameter differently.
        samples = self.benchmark.score(items, responses, self.judge)
        # A record {"error": ...} is an item the judge could not score (the call failed); it is
        # left out of the metric rather than counted against the prompt.
        scored = [s for s in samples if "error" not in s]
        self.judge_failed += len(samples) - len(scored)
        metrics = self.benchmark.metrics(scored)
        if self.metric is None:
            self.metric = default_metric(self.benchmark, metrics)
        if self.metric not in metrics:
            raise InputError(
                f"benchmark {self.benchmark.name} has no metric '{self.metric}'; it reports: "
                + ", ".join(metrics)
            )
        value = metrics[self.metric].value
        return 0.0 if math.isnan(value) else float(value)


class Rephraser:
    """Rewrites a component's text through a model (prompt templates in data/sprig/)."""

    def __init__(self, backend: Backend, max_tokens: int = 96):
        self.backend = backend
        self.params = SamplingParams(n=1, temperature=0.0, max_tokens=max_tokens, seed=0)
        root = Path(__file__).resolve().parent.parent / "data" / "sprig"
        self.templates = {
            lang: (root / f"rephrase_{lang}.txt").read_text(encoding="utf-8") for lang in ("en", "zh")
        }

    def chat(self, comp: Component) -> Chat:
        """The request sent for one component (tests assert it)."""
        return [{"role": "user", "content": self.templates[comp.lang].format(text=comp.text)}]

    def __call__(self, comp: Component) -> str | None:
        """A rephrasing of the component, or None when the model gave nothing usable."""
        out = self.backend.complete([self.chat(comp)], self.params)[0]
        if not out.ok or not out.texts:
            return None
        return clean_rephrase(out.texts[0], comp.text)


def clean_rephrase(raw: str, original: str) -> str | None:
    """The first non-empty line of a model's rephrasing, unquoted; None if empty, unchanged or runaway."""
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    text = re.sub(
        r"^(rewritten instruction|instruction|改写后的指令|指令)\s*[:：]\s*", "", lines[0], flags=re.I
    )
    text = text.strip().strip("\"'“”‘’「」").strip()
    if not text or text.lower() == original.strip().lower() or len(text) > 3 * len(original) + 80:
        return None
    return text


@dataclass
class _Proposal:
    components: tuple[str, ...]
    op: str
    parent: Candidate
    changed: str | None  # the component added, deleted or made by rephrasing


@dataclass
class _Budget:
    limit: int | None
    used: int = 0
    exhausted: bool = False

    def take(self, cost: int) -> bool:
        if self.limit is not None and self.used + cost > self.limit:
            self.exhausted = True
            return False
        self.used += cost
        return True


@dataclass
class _Search:
    """State shared by both algorithms: components, credits, scored candidates, budget."""

    cfg: SprigConfig
    components: dict[str, Component]
    evaluator: Evaluator
    rephraser: Rephraser | None
    train: list[EvalItem]  # the pool each round's training sample is drawn from
    rng: random.Random
    budget: _Budget
    progress: Callable[[str], None] | None = None
    credits: dict[str, list[float]] = field(default_factory=dict)
    scored: dict[tuple[str, ...], Candidate] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def text(self, comps: tuple[str, ...]) -> str:
        return JOINER.join(self.components[c].text for c in comps)

    def root(self, cid: str) -> str:
        """The corpus component a (possibly rephrased) component comes from."""
        return self.components[cid].parent or cid

    def sample(self, rnd: int) -> list[EvalItem]:
        """The training sample of round `rnd`: re-drawn each round from the pool, seeded."""
        if len(self.train) <= self.cfg.train:
            return self.train
        return random.Random(f"sprig-sample:{self.cfg.seed}:{rnd}").sample(self.train, self.cfg.train)

    def ucb_ranked(self, exclude: set[str]) -> list[str]:
        """Corpus components by UCB, best first, none sharing a root with `exclude`; seeded tie-break.

        The arms are corpus components (credits are kept by root), as in the authors' code; two
        versions of one component never sit in one prompt.
        """
        total = sum(len(v) for v in self.credits.values())
        log_n = math.log(max(total, 1))

        def ucb(cid: str) -> float:
            got = self.credits.get(cid)
            if not got:
                return math.inf
            return sum(got) / len(got) + self.cfg.ucb_c * math.sqrt(2 * log_n / len(got))

        roots = {self.root(c) for c in exclude}
        pool = [c for c in self.components if self.components[c].parent is None and c not in roots]
        tiebreak = {c: self.rng.random() for c in pool}
        return sorted(pool, key=lambda c: (-ucb(c), tiebreak[c]))

    def score(self, comps: tuple[str, ...], op: str, parent: Candidate | None, rnd: int) -> Candidate | None:
        """Score a new candidate on the training sample, or None when the budget is spent."""
        if comps in self.scored:
            return self.scored[comps]
        sample = self.sample(rnd)
        if not self.budget.take(len(sample)):
            return None
        value = self.evaluator.score(self.text(comps), sample)
        cand = Candidate(comps, self.text(comps), value, rnd, op, parent.components if parent else None)
        self.scored[comps] = cand
        return cand

    def rephrase(self, cid: str) -> str | None:
        """A new component id holding a rephrasing of `cid` (budget: one call), or None."""
        if self.rephraser is None or not self.budget.take(1):
            return None
        comp = self.components[cid]
        root = comp.parent or comp.id
        text = self.rephraser(self.components[root] if comp.parent else comp)
        if text is None:
            return None
        new_id = f"{root}~{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"
        self.components.setdefault(new_id, Component(new_id, comp.category, comp.lang, text, parent=root))
        return new_id

    def credit(self, prop: _Proposal, child: Candidate) -> None:
        """Credit the corpus component an add or delete changed with the score change it caused."""
        if prop.changed is None or prop.op not in ("add", "delete"):
            return  # the authors credit adds and deletes only
        delta = child.train - prop.parent.train
        if prop.op == "delete":
            delta = -delta
        self.credits.setdefault(self.root(prop.changed), []).append(delta)

    # -- edit operations ---------------------------------------------------------------------

    def adds(self, member: Candidate, k: int) -> list[_Proposal]:
        """Each of the k components of highest UCB inserted at every position of the member."""
        comps = member.components
        if k == 0 or len(comps) >= self.cfg.max_components:
            return []
        out = []
        for cid in self.ucb_ranked(exclude=set(comps))[:k]:
            for pos in range(len(comps) + 1):
                out.append(_Proposal((*comps[:pos], cid, *comps[pos:]), "add", member, cid))
        return out

    def deletes(self, member: Candidate, k: int) -> list[_Proposal]:
        comps = member.components
        picks = self.rng.sample(range(len(comps)), min(k, len(comps)))
        return [_Proposal(comps[:i] + comps[i + 1 :], "delete", member, comps[i]) for i in picks]

    def swaps(self, member: Candidate, k: int) -> list[_Proposal]:
        comps = member.components
        if len(comps) < 2:
            return []
        out = []
        for _ in range(k):
            i, j = sorted(self.rng.sample(range(len(comps)), 2))
            new = list(comps)
            new[i], new[j] = new[j], new[i]
            out.append(_Proposal(tuple(new), "swap", member, None))
        return out

    def rephrases(self, member: Candidate, k: int) -> list[_Proposal]:
        comps = member.components
        out = []
        for i in self.rng.sample(range(len(comps)), min(k, len(comps))):
            new_id = self.rephrase(comps[i])
            if new_id is not None and new_id not in comps:
                out.append(_Proposal(comps[:i] + (new_id,) + comps[i + 1 :], "rephrase", member, new_id))
        return out

    def crossover(self, a: Candidate, b: Candidate) -> _Proposal:
        i = self.rng.randint(0, len(a.components))
        j = self.rng.randint(0, len(b.components))
        head = a.components[:i]
        child = head + tuple(c for c in b.components[j:] if c not in head)
        return _Proposal(child[: self.cfg.max_components], "crossover", a, None)

    def merge(self, a: Candidate, b: Candidate) -> _Proposal:
        child = a.components + tuple(c for c in b.components if c not in a.components)
        return _Proposal(child[: self.cfg.max_components], "merge", a, None)

    # -- rounds ------------------------------------------------------------------------------

    def run_proposals(self, props: list[_Proposal], rnd: int) -> list[Candidate]:
        """Score new proposals (deduplicated) and credit their components; stops at the budget."""
        out: list[Candidate] = []
        seen: set[tuple[str, ...]] = set()
        for prop in props:
            if prop.components in seen or prop.components in self.scored:
                continue
            seen.add(prop.components)
            child = self.score(prop.components, prop.op, prop.parent, rnd)
            if child is None:
                break
            self.credit(prop, child)
            out.append(child)
            if self.progress:
                self.progress(f"round {rnd}: {len(out)} candidates, {self.budget.used} calls")
        return out

    def record_round(self, rnd: int, new: list[Candidate], kept: list[Candidate]) -> None:
        best = max(self.scored.values(), key=lambda c: c.train)
        self.rounds.append(
            {
                "round": rnd,
                "n_new": len(new),
                "new_train": [c.train for c in new],
                "best_train": best.train,
                "kept_mean_train": sum(c.train for c in kept) / len(kept),
                "calls": self.budget.used,
            }
        )

    def beam_search(self) -> None:
        root = self.score((), "start", None, 0)
        if root is None:
            raise InputError("--budget is too small to score even the empty prompt on the training sample")
        beam = [root]
        self.record_round(0, [root], beam)
        for rnd in range(1, self.cfg.rounds + 1):
            props: list[_Proposal] = []
            for member in beam:
                props += self.adds(member, self.cfg.n_add)
                props += self.deletes(member, self.cfg.n_delete)
                props += self.swaps(member, self.cfg.n_swap)
                props += self.rephrases(member, self.cfg.n_rephrase)
            new = self.run_proposals(props, rnd)
            # Children only, as the authors do: they share this round's sample, while the parents
            # were scored on an earlier one.
            if new:
                beam = sorted(new, key=_rank_key)[: self.cfg.beam]
            self.record_round(rnd, new, beam)
            if self.budget.exhausted:
                break

    def genetic(self) -> None:
        root = self.score((), "start", None, 0)
        if root is None:
            raise InputError("--budget is too small to score even the empty prompt on the training sample")
        seeds = [_Proposal((cid,), "add", root, cid) for cid in self.ucb_ranked(set())[: self.cfg.beam - 1]]
        population = [root, *self.run_proposals(seeds, 0)]
        self.record_round(0, population, population)
        for rnd in range(1, self.cfg.rounds + 1):
            if self.budget.exhausted:
                break
            population.sort(key=_rank_key)
            survivors = population[: max(1, math.ceil(len(population) / 2))]
            want = self.cfg.beam - len(survivors)
            children: list[Candidate] = []
            attempts = 0
            while len(children) < want and attempts < 20 * self.cfg.beam and not self.budget.exhausted:
                attempts += 1
                prop = self.breed(survivors)
                if prop is None or prop.components in self.scored:
                    continue
                got = self.run_proposals([prop], rnd)
                children += got
            population = survivors + children
            self.record_round(rnd, children, population)

    def breed(self, survivors: list[Candidate]) -> _Proposal | None:
        """One child of the survivors by a randomly chosen operation."""
        op = self.rng.choice(OPS_GA)
        a = self.rng.choice(survivors)
        others = [s for s in survivors if s is not a] or [a]
        b = self.rng.choice(others)
        if op == "crossover":
            return self.crossover(a, b)
        if op == "merge":
            return self.merge(a, b)
        if op == "add":
            if len(a.components) >= self.cfg.max_components:
                return None
            # The UCB top pick for every child would give a generation one component; sample among
            # the top few instead so that it explores several.
            ranked = self.ucb_ranked(exclude=set(a.components))[: max(3, self.cfg.n_add)]
            cid = self.rng.choice(ranked)
            return _Proposal((*a.components, cid), "add", a, cid)
        made = {"delete": self.deletes, "swap": self.swaps, "rephrase": self.rephrases}[op](a, 1)
        return made[0] if made else None


def _rank_key(c: Candidate) -> tuple:
    # Higher training score first; a shorter prompt wins a tie (cheaper, less to go wrong).
    return (-c.train, len(c.components), c.round, c.text)


def run_sprig(
    cfg: SprigConfig,
    *,
    model: Backend | None = None,
    rephrase_model: Backend | None = None,
    judge: Backend | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Search cfg.model's system prompt on cfg.benchmark; writes cfg.out (write_outputs, manifest.json).

    Returns sprig.json's body with `outputs` (name -> path). `model`, `rephrase_model` and `judge`
    replace the backends the config names (tests); progress=False prints nothing.
    """
    from followkit.core.manifest import write_manifest
    from followkit.evaluate.registry import get_benchmark, parse_benchmark_spec
    from followkit.optimize.corpus import load_components
    from followkit.synth.common import cache_stats, load_role

    comps = load_components(cfg.components, lang=cfg.lang)
    name, path = parse_benchmark_spec(cfg.benchmark)
    bench = get_benchmark(name)
    items = bench.load(path)
    if bench.needs_judge and cfg.judge is None and judge is None:
        raise InputError(f"benchmark {name} is judged: give --judge MODEL")

    def role(spec: str) -> Backend:
        # One --base-url serves every openai:NAME role (model, rephraser, judge); other engines take none.
        url = cfg.base_url if spec.startswith("openai:") else None
        return load_role(spec, url, cfg.cache, cfg.refresh_cache)

    backend = model if model is not None else role(cfg.model)
    if rephrase_model is None:
        rephrase_model = backend
        if cfg.rephrase_model and cfg.rephrase_model != cfg.model:
            rephrase_model = role(cfg.rephrase_model)
    if judge is None and cfg.judge:
        judge = role(cfg.judge)
    with _status(progress) as show:
        result = sprig_search(
            backend, bench, items, comps, cfg, rephraser=Rephraser(rephrase_model), judge=judge, progress=show
        )
    paths = write_outputs(result, cfg.out)
    paths["manifest"] = Path(cfg.out) / "manifest.json"
    write_manifest(
        cfg.out,
        "sprig",
        cfg.model_dump(),
        model=backend.describe(),
        judge=judge.describe() if judge is not None else None,
        cache=cache_stats(backend),
    )
    return {**result.summary(), "outputs": {k: str(p) for k, p in paths.items()}}


@contextmanager
def _status(progress: bool | None) -> Iterator[Callable[[str], None] | None]:
    """Where the search reports: a status line on a terminal, a line per candidate in logs, or nowhere."""
    if progress is False:
        yield None
        return
    from followkit.core.progress import console

    status = console.status("sprig: scoring the empty prompt")

    def show(msg: str) -> None:
        if console.is_terminal:
            status.update(f"sprig: {msg}")
        else:  # logs and CI: one line per scored candidate
            console.print(f"sprig: {msg}", highlight=False)

    with status:
        yield show


def sprig_search(
    backend: Backend,
    benchmark: Benchmark,
    items: list[EvalItem],
    components: list[Component],
    config: SprigConfig,
    rephraser: Rephraser | None = None,
    judge: Backend | None = None,
    progress: Callable[[str], None] | None = None,
) -> SprigResult:
    """Search for the system prompt that maximises the benchmark metric (see the module docstring)."""
    if not components:
        raise InputError("the component corpus is empty")
    train, val, heldout = split_items(items, config.pool_size, config.val, config.heldout, config.seed)
    params = SamplingParams(n=1, temperature=0.0, max_tokens=config.max_tokens, seed=config.seed)
    evaluator = Evaluator(backend, benchmark, params, metric=config.metric, judge=judge)
    search = _Search(
        cfg=config,
        components={c.id: c for c in components},
        evaluator=evaluator,
        rephraser=rephraser if rephraser is not None else Rephraser(backend),
        train=train,
        rng=random.Random(config.seed),
        budget=_Budget(config.budget),
        progress=progress,
    )
    if config.algorithm == "beam":
        search.beam_search()
    else:
        search.genetic()
    search_calls = search.budget.used
    calls_before = evaluator.calls

    baseline = search.scored[()]
    finalists = sorted(search.scored.values(), key=_rank_key)[: config.finalists or config.beam]
    if baseline not in finalists:
        finalists.append(baseline)
    for cand in finalists:
        cand.val = evaluator.score(cand.text, val)
        if progress:
            progress(f"validation: {cand.val:.3f} for {len(cand.components)} components")
    best = max(finalists, key=lambda c: (c.val, c.train, -len(c.components)))
    best.heldout = evaluator.score(best.text, heldout)
    if best is not baseline:
        baseline.heldout = evaluator.score(baseline.text, heldout)
    return SprigResult(
        best=best,
        baseline=baseline,
        candidates=list(search.scored.values()),
        rounds=search.rounds,
        components=search.components,
        credits=search.credits,
        metric=evaluator.metric or "",
        split_sizes={
            "train": min(config.train, len(train)),
            "train_pool": len(train),
            "val": len(val),
            "heldout": len(heldout),
        },
        search_calls=search_calls,
        eval_calls=evaluator.calls - calls_before,
        budget_exhausted=search.budget.exhausted,
        config=config,
    )


def write_outputs(result: SprigResult, out_dir: str | Path) -> dict[str, Path]:
    """best.txt, leaderboard.jsonl / .csv, score_by_round.png and sprig.json in `out_dir`."""
    import csv
    import io

    from followkit.core.io import write_json, write_jsonl

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "best": out / "best.txt",
        "leaderboard_jsonl": out / "leaderboard.jsonl",
        "leaderboard_csv": out / "leaderboard.csv",
        "plot": out / "score_by_round.png",
        "summary": out / "sprig.json",
    }
    paths["best"].write_text(result.best.text + "\n", encoding="utf-8")
    rows = []
    for rank, cand in enumerate(result.leaderboard(), start=1):
        rows.append({"rank": rank, **cand.to_dict()})
    write_jsonl(paths["leaderboard_jsonl"], rows)
    buf = io.StringIO()
    cols = ["rank", "train", "val", "heldout", "round", "op", "n_components", "components", "prompt"]
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "components": " ".join(r["components"])})
    paths["leaderboard_csv"].write_text(buf.getvalue(), encoding="utf-8")
    plot_rounds(result, paths["plot"])
    write_json(paths["summary"], result.summary())
    return paths


def plot_rounds(result: SprigResult, path: str | Path) -> None:
    """Score by round: every new candidate's training score, the best so far, the kept mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for r in result.rounds:
        xs = [r["round"]] * len(r["new_train"])
        ax.scatter(xs, r["new_train"], s=12, alpha=0.4, color="tab:gray")
    rounds = [r["round"] for r in result.rounds]
    ax.plot(rounds, [r["best_train"] for r in result.rounds], marker="o", label="best (train)")
    label = "beam mean (train)" if result.config.algorithm == "beam" else "population mean (train)"
    ax.plot(rounds, [r["kept_mean_train"] for r in result.rounds], marker="s", label=label)
    if result.best.val is not None:
        ax.axhline(result.best.val, linestyle="--", color="tab:green", label="winner (val)")
    if result.baseline.val is not None:
        ax.axhline(result.baseline.val, linestyle=":", color="tab:red", label="empty prompt (val)")
    ax.set_xlabel("round")
    ax.set_ylabel(result.metric)
    ax.set_title(f"SPRIG ({result.config.algorithm})")
    ax.set_xticks(rounds)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
