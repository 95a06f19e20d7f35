"""Compose complex instructions: a seed task plus k sampled, mutually compatible, verifiable constraints.

Input: seed tasks (a user's JSONL/text file or the built-in sets). Output: Instruction records
(`id, task, input, constraints [{id, kwargs, text}], language, prompt`), one per index, each
drawn from its own `random.Random` seeded by (seed, index): the output for an index does not
depend on the order or the number of the others, so a resumed or sharded run matches a whole one.

With `turns` N > 1 each record is a Conversation (`id, task, input, language, turns [{prompt,
constraints}]`): turn 1 asks the task with its constraints, each later turn asks to rewrite the
previous answer under k more; constraints accumulate as in Multi-IF (turn t lists every constraint
in force), all pairwise compatible. k is drawn per turn from the k distribution.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from followkit.core.errors import InputError
from followkit.core.records import (
    LAYOUTS,
    Conversation,
    Instruction,
    Writes,
    render_prompt,
    render_prompt_layout,
)
from followkit.synth.kdist import KDist, KSpec
from followkit.synth.seeds import LANGUAGES, SeedLanguages, SeedTask, load_seeds

DEFAULT_EXCLUDE: tuple[str, ...] = ("custom:",)
"""Left out unless asked for: IFBench's custom ids are whole tasks of their own (sort European
capitals, reverse words, ...), which would replace the seed task rather than constrain it."""
Phrasing = Literal["template", "varied"]
Placement = Literal["list", "mixed"]
PICK_PASSES = 4  # greedy draws of compatible ids tried per instruction before settling for fewer
MAX_TURNS = 8
"""The most user turns --turns allows; compatible constraint ids run short long before this many turns."""

# A later turn's opening: it asks to rewrite the previous answer under the new constraints (numbered
# after it), the earlier ones still in force. Drawn per turn so no one wording marks every follow-up.
_FOLLOW_UPS = {
    "en": (
        "Rewrite your previous answer. Everything asked before still applies, and it must also follow these:",
        "Revise the answer you just gave so that, on top of the earlier requirements, it meets these too:",
        "Take your last answer and produce a new version of it. Keep to all the earlier instructions and add:",
    ),
    "zh": (
        "请改写你上一次的回答：之前的要求依然有效，并且还要满足以下要求：",
        "在保留先前所有要求的基础上，修改你刚才的回答，使它同时满足：",
        "请以你上一轮的回答为基础重新写一版，除了之前的要求外，还需要：",
    ),
}


class ComposeConfig(BaseModel):
    """Settings of `followkit synth compose`."""

    model_config = ConfigDict(extra="forbid")
    writes: ClassVar[Writes] = {"instructions.jsonl": Instruction}
    n: int = Field(200, ge=1, description="Number of instructions")
    seed: int = Field(0, description="Random seed; instruction i depends only on (seed, i)")
    seeds: str | None = Field(
        None,
        description="Seed-task file (JSONL or text), or builtin / builtin-wide / heldout (default: builtin)",
    )
    languages: SeedLanguages
    k: KSpec = Field(
        "trace", description="Constraints per instruction: trace | uniform:A-B | fixed:K | K:W,..."
    )
    include: list[str] = Field(
        default_factory=list, description="Only constraint ids with this prefix (repeatable)"
    )
    repairable: bool = Field(
        False,
        description="Only ids the rule teacher repairs (for `synth refine --teacher rules`; docs/repairs.md)",
    )
    exclude: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        description="Drop constraint ids with this prefix (repeatable)",
    )
    id_prefix: str | None = Field(None, description="Instruction id prefix (default: fk<seed>)")
    phrasing: Phrasing = Field(
        "template",
        description="Constraint wording: the one template sentence per id, or varied (drawn among it and "
        "alternative phrasings; followkit.constraints.phrasings)",
    )
    placement: Placement = Field(
        "list",
        description="Where constraints go in the prompt: a numbered list after the task, or mixed (list, "
        "prose, before or inline the task, drawn per instruction)",
    )
    turns: int = Field(
        1,
        ge=1,
        le=MAX_TURNS,
        description="User turns per instruction: above 1, a conversation whose later turns ask to rewrite "
        "the previous answer under k more constraints (they accumulate, as in Multi-IF)",
    )


class Composer:
    """Draws instruction i from (seed, i): seed task, k, compatible constraint ids, kwargs, text."""

    def __init__(
        self,
        seeds: list[SeedTask],
        seed: int = 0,
        k: KDist | str = "trace",
        include: list[str] | tuple[str, ...] = (),
        exclude: list[str] | tuple[str, ...] = DEFAULT_EXCLUDE,
        id_prefix: str | None = None,
        id_width: int = 6,
        repairable: bool = False,
        phrasing: Phrasing = "template",
        placement: Placement = "list",
        turns: int = 1,
    ):
        from followkit.constraints import registry
        from followkit.constraints.conflicts import compatible
        from followkit.constraints.phrasings import render_variant

        if not seeds:
            raise InputError("no seed tasks")
        self.seeds = list(seeds)
        self.seed = seed
        self.kdist = KDist.parse(k) if isinstance(k, str) else k
        self.id_prefix = id_prefix if id_prefix is not None else f"fk{seed}"
        self.id_width = id_width
        self.phrasing = phrasing
        self.placement = placement
        if not 1 <= turns <= MAX_TURNS:
            raise InputError(f"turns must lie in 1..{MAX_TURNS}, got {turns}")
        self.turns = turns
        self._render_variant = render_variant
        self._reg = registry.registry()
        ids = [
            i
            for i in registry.ids()
            if (not include or any(i.startswith(p) for p in include))
            and not any(i.startswith(p) for p in exclude)
            and (not repairable or self._reg[i].repairable)
        ]
        if not ids:
            raise InputError("no constraint ids left after --include/--exclude/--repairable")
        # Per-language pools, and each id's incompatible ids, computed once: the hot loop is then
        # set look-ups only (100,000 instructions must compose in well under 30 s).
        self.pools: dict[str, list[str]] = {
            lang: [i for i in ids if lang in self._reg[i].languages] for lang in LANGUAGES
        }
        self._banned: dict[str, frozenset[str]] = {
            a: frozenset(b for b in ids if b == a or not compatible(a, b)) for a in ids
        }
        for s in self.seeds:
            if not self.pools.get(s.language):
                raise InputError(f"no constraint ids support language '{s.language}' (seed {s.id})")

    def instruction_id(self, index: int) -> str:
        """The id of instruction `index`."""
        return f"{self.id_prefix}-{index:0{self.id_width}d}"

    def pick_ids(self, rng: random.Random, language: str, k: int) -> list[str]:
        """Up to k distinct, pairwise compatible ids for a language, in random order.

        A greedy draw can paint itself into a corner (an id that dictates the whole response, or
        JSON, drawn first leaves little else), so up to PICK_PASSES draws are made and the first
        that reaches k wins, else the longest: the realised k then tracks the requested
        distribution. Compatibility is pairwise, as `conflicts.compatible_set` defines it.
        """
        pool = self.pools[language]
        best: list[str] = []
        for _ in range(PICK_PASSES):
            chosen: list[str] = []
            allowed = pool
            while len(chosen) < k and allowed:
                cid = allowed[rng.randrange(len(allowed))]
                chosen.append(cid)
                banned = self._banned[cid]  # cid itself included
                allowed = [x for x in allowed if x not in banned]
            if len(chosen) >= k:
                return chosen
            if len(chosen) > len(best):
                best = chosen
        return best

    def _constraints(self, rng: random.Random, s: SeedTask, ids: list[str]) -> list[dict[str, Any]]:
        """Constraint dicts for ids: kwargs drawn for the seed task, then their wording."""
        constraints = []
        parsed = []
        for cid in ids:
            ct = self._reg[cid]
            raw = {key: v for key, v in ct.sample_kwargs(rng, s.task).items() if v is not None}
            parsed.append((ct, ct.parse_kwargs(raw)))
            # Plain dicts in the hot loop: the stage writes records, and 100,000 must compose quickly.
            constraints.append({"id": cid, "kwargs": raw, "text": "", "dimension": None})
        # Wording and layout are drawn after every other draw, so turning them on keeps each
        # index's seed task, ids and kwargs.
        texts = [
            self._render_variant(ct, kw, s.language, rng)
            if self.phrasing == "varied"
            else ct.render(kw, s.language)
            for ct, kw in parsed
        ]
        for c, text in zip(constraints, texts, strict=True):
            c["text"] = text
        return constraints

    def compose_record(self, index: int) -> dict[str, Any]:
        """Instruction `index` as a JSON-ready record (pure function of seed and index); a conversation with turns > 1."""
        # str seeds are hashed with SHA-512 by random.Random, so this does not vary with PYTHONHASHSEED.
        rng = random.Random(f"{self.seed}:{index}")
        s = self.seeds[rng.randrange(len(self.seeds))]
        if self.turns > 1:
            return self._conversation(index, rng, s)
        constraints = self._constraints(rng, s, self.pick_ids(rng, s.language, self.kdist.sample(rng)))
        texts = [c["text"] for c in constraints]
        rec = {
            "id": self.instruction_id(index),
            "task": s.task,
            "input": s.input,
            "constraints": constraints,
            "language": s.language,
            "prompt": render_prompt(s.task, texts, s.input, s.language),
            "seed_task": s.id,
        }
        if self.placement == "mixed":
            layout = LAYOUTS[rng.randrange(len(LAYOUTS))]
            rec["prompt"] = render_prompt_layout(s.task, texts, s.input, s.language, layout, rng)
            rec["layout"] = layout
        return rec

    def _conversation(self, index: int, rng: random.Random, s: SeedTask) -> dict[str, Any]:
        """Conversation `index`: k_t new constraints per turn, all compatible, accumulated turn by turn."""
        ks = [self.kdist.sample(rng) for _ in range(self.turns)]
        constraints = self._constraints(rng, s, self.pick_ids(rng, s.language, sum(ks)))
        # Fewer compatible ids than asked for shorten the conversation: every turn adds at least one.
        bounds, at = [], 0
        for k in ks:
            if at >= len(constraints):
                break
            at = min(at + k, len(constraints))
            bounds.append(at)
        lang = "zh" if s.language == "zh" else "en"
        turns = []
        for t, end in enumerate(bounds):
            texts = [c["text"] for c in constraints[bounds[t - 1] if t else 0 : end]]
            if t == 0 and self.placement == "mixed":
                layout = LAYOUTS[rng.randrange(len(LAYOUTS))]
                prompt = render_prompt_layout(s.task, texts, s.input, s.language, layout, rng)
            elif t == 0:
                prompt = render_prompt(s.task, texts, s.input, s.language)
            else:
                lead = _FOLLOW_UPS[lang][rng.randrange(len(_FOLLOW_UPS[lang]))]
                prompt = render_prompt(lead, texts, None, s.language)
            turns.append({"prompt": prompt, "constraints": constraints[:end]})
        return {
            "id": self.instruction_id(index),
            "task": s.task,
            "input": s.input,
            "language": s.language,
            "turns": turns,
            "seed_task": s.id,
        }

    def compose_one(self, index: int) -> Instruction | Conversation:
        """Instruction `index`, validated (a Conversation with turns > 1)."""
        return (Conversation if self.turns > 1 else Instruction).model_validate(self.compose_record(index))

    def compose(self, n: int, start: int = 0) -> Iterator[Instruction | Conversation]:
        """Instructions start .. n-1."""
        for i in range(start, n):
            yield self.compose_one(i)


def composer_from_config(cfg: ComposeConfig) -> Composer:
    """A Composer for a compose config."""
    seeds = load_seeds(cfg.seeds, tuple(cfg.languages))
    return Composer(
        seeds,
        seed=cfg.seed,
        k=cfg.k,
        include=cfg.include,
        exclude=cfg.exclude,
        id_prefix=cfg.id_prefix,
        id_width=max(6, len(str(cfg.n - 1))),
        repairable=cfg.repairable,
        phrasing=cfg.phrasing,
        placement=cfg.placement,
        turns=cfg.turns,
    )


def compose(
    n: int,
    seed: int = 0,
    seeds: str | Path | list[SeedTask] | None = None,
    k: str = "trace",
    languages: tuple[str, ...] = LANGUAGES,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
    phrasing: Phrasing = "template",
    placement: Placement = "list",
    turns: int = 1,
) -> list[Instruction | Conversation]:
    """n composed instructions (the library form of `followkit synth compose`)."""
    seed_list = seeds if isinstance(seeds, list) else load_seeds(seeds, languages)
    comp = Composer(
        seed_list,
        seed=seed,
        k=k,
        include=include,
        exclude=exclude,
        id_width=max(6, len(str(n - 1))),
        phrasing=phrasing,
        placement=placement,
        turns=turns,
    )
    return list(comp.compose(n))


def run_compose(cfg: ComposeConfig, out_dir: str | Path, progress: bool | None = None) -> dict[str, Any]:
    """Write OUT/instructions.jsonl (appending, resumable) and OUT/manifest.json; returns the manifest."""
    from followkit.core.io import AppendLog
    from followkit.core.progress import stage_progress
    from followkit.synth.common import write_stage_manifest

    out = Path(out_dir)
    comp = composer_from_config(cfg)
    k_hist: dict[int, int] = {}
    turn_hist: dict[int, int] = {}
    resumed = 0
    with AppendLog(out / "instructions.jsonl") as log, stage_progress("compose", cfg.n, progress) as bar:
        for i in range(cfg.n):
            iid = comp.instruction_id(i)
            was_done = iid in log
            if was_done:
                resumed += 1
            else:
                log.append(comp.compose_one(i))
            rec = log.done[iid]
            turns = rec.get("turns")
            nk = len(
                turns[-1]["constraints"] if turns else rec["constraints"]
            )  # a conversation's: all in force
            k_hist[nk] = k_hist.get(nk, 0) + 1
            if turns:
                turn_hist[len(turns)] = turn_hist.get(len(turns), 0) + 1
            bar.advance(1, cached=int(was_done))
    total_k = sum(k * c for k, c in k_hist.items())
    return write_stage_manifest(
        out,
        "synth.compose",
        cfg.model_dump(mode="json"),
        seed=cfg.seed,
        counts={"instructions": cfg.n, "resumed": resumed, "new": cfg.n - resumed, "failed": 0},
        constraints_per_instruction={"mean": total_k / cfg.n, "histogram": dict(sorted(k_hist.items()))},
        k_distribution={"spec": comp.kdist.spec, "mean": comp.kdist.mean()},
        **({"turns_per_conversation": dict(sorted(turn_hist.items()))} if cfg.turns > 1 else {}),
        output="instructions.jsonl",
    )
