"""followkit-bench: ~300 verifiable complex instructions in English and Chinese from held-out seed tasks.

The seed tasks (`data/seeds/heldout_*.jsonl`) are never used by `synth compose`'s defaults, so a
model trained on followkit's synthetic data is not evaluated on its own training tasks. Each prompt
has 1 to 8 rule-checked constraints (k uniform over 1..8), languages alternate en / zh, and the
whole set is fixed by BENCH_SEED: it changes only when the constraint library does.
"""

from __future__ import annotations

import functools

from followkit.core.records import Instruction
from followkit.synth.compose import DEFAULT_EXCLUDE, Composer
from followkit.synth.kdist import KDist
from followkit.synth.seeds import HELDOUT, load_seeds

BENCH_SIZE = 300
BENCH_SEED = 20241108
BENCH_K = "uniform:1-8"
BENCH_EXCLUDE: tuple[str, ...] = DEFAULT_EXCLUDE  # tasks of their own, not constraints on a task


@functools.lru_cache(maxsize=1)
def _bench() -> tuple[Instruction, ...]:
    seeds = load_seeds(HELDOUT)
    by_lang = {lang: [s for s in seeds if s.language == lang] for lang in ("en", "zh")}
    comps = {
        lang: Composer(by_lang[lang], seed=BENCH_SEED, k=KDist.parse(BENCH_K), exclude=BENCH_EXCLUDE)
        for lang in ("en", "zh")
    }
    out = []
    for i in range(BENCH_SIZE):
        lang = "en" if i % 2 == 0 else "zh"
        inst = comps[lang].compose_one(i)
        # Rename after composing: the draw depends on (BENCH_SEED, i) only, the id is cosmetic.
        data = inst.model_dump()
        data["id"] = f"fkb-{i + 1:04d}"
        out.append(Instruction.model_validate(data))
    return tuple(out)


def bench_instructions() -> list[Instruction]:
    """The followkit-bench prompts (deterministic; ids fkb-0001 .. fkb-0300)."""
    return [i.model_copy(deep=True) for i in _bench()]
