"""General-data mixing: conversational SFT records blended into SFT, DPO+SFT and IOPO training.

"From Complex to Simple" (He et al. 2024) mixes general instruction data into constraint training
so that the model does not forget how to answer plain requests. ``followkit train ... mix=SPEC``
(repeatable, or ``--mix SPEC``) does the same.

Spec: ``FILE:RATIO`` or ``builtin:general:RATIO`` (the package's own ~60 short conversations,
``followkit/data/general/mix_sft.jsonl``). RATIO is a positive number.

Records: ShareGPT ``{"conversations": [{"from": "human"|"gpt"|"system", "value": ...}]}`` or
messages ``{"messages": [{"role", "content"}]}``. The last turn must be the assistant's; it is the
response trained on, and every earlier turn is the prompt (masked), as for ``--method sft``.

The ratio, precisely. With N the constraint items kept after truncation (SFT records, DPO pairs or
IOPO groups) and P the usable records of a source, the source contributes n = round(RATIO * N)
general items (halves rounded up). They are drawn without replacement while they last: the first P are a permutation
of the file, the next P another permutation, and so on (so each record is used floor(n / P) or
ceil(n / P) times). The permutations come from ``random.Random(f"{seed}:{k}:{spec}")`` for source
k, so the draw is deterministic under the seed. The training list interleaves the draws evenly:
after constraint item i (1-based), round(i * RATIO)
(halves up) of the source's items have been placed. With
``shuffle=false`` that list is the data order; otherwise the Trainer's seeded sampler shuffles it
each epoch (a different seed, a different order).

Where a general item goes: in SFT it is one more SFT record. In DPO and IOPO it is an item with a
single sequence (slot 0) and a ``general`` flag: the preference loss is computed over the
preference items only (so its value for them is what it is without mixing), and the general
item's response tokens join the SFT term, DPO's ``sft_weight`` token mean over the chosen
responses, or IOPO's ``pref_ftx`` mean over items of per-token NLLs (one sequence for a general
item, y1|x1 and y2|x2 for a group). Mixing therefore needs that SFT term's weight above 0.

Counts (records per source, drawn, distinct, tokens, the realised ratio n / N) go to
OUT/data_stats.json under ``mix``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from followkit.core.errors import InputError
from followkit.core.records import GeneralRecord, iter_records, parse_row
from followkit.train.data import DataStats, Messages, TokenizedItem, tokenize_rows

BUILTIN_MIX: dict[str, str] = {"builtin:general": "data/general/mix_sft.jsonl"}
"""Built-in mix sources: name -> file inside the followkit package."""


@dataclass(frozen=True)
class MixSpec:
    """One mix source: the spec as written, the file it reads and the ratio."""

    spec: str
    path: str
    ratio: float


def builtin_path(name: str) -> Path:
    """The file of a built-in mix source."""
    return Path(str(resources.files("followkit").joinpath(BUILTIN_MIX[name])))


def parse_mix_spec(spec: str) -> MixSpec:
    """A MixSpec from `FILE:RATIO` or `builtin:NAME:RATIO`; ValueError with a one-line reason."""
    source, sep, raw = str(spec).rpartition(":")
    if not sep or not source:
        raise ValueError(f"mix '{spec}': expected FILE:RATIO or builtin:general:RATIO")
    try:
        ratio = float(raw)
    except ValueError:
        raise ValueError(f"mix '{spec}': RATIO '{raw}' is not a number") from None
    if not ratio > 0 or ratio == float("inf"):
        raise ValueError(f"mix '{spec}': RATIO must be a positive finite number, got {raw}")
    if source.startswith("builtin:"):
        if source not in BUILTIN_MIX:
            raise ValueError(
                f"mix '{spec}': unknown built-in source '{source}'; known: {', '.join(BUILTIN_MIX)}"
            )
        return MixSpec(spec, str(builtin_path(source)), ratio)
    return MixSpec(spec, source, ratio)


def round_half_up(x: float) -> int:
    """x rounded to the nearest integer, halves up (Python's round() sends 2.5 to 2)."""
    return math.floor(x + 0.5 + 1e-9)  # the epsilon absorbs float error such as 0.1 * 35 = 3.5000000000000004


def parse_general_record(rec: dict, path: str, line: int) -> tuple[Messages, Messages]:
    """(prompt messages, [the final assistant message]) of a ShareGPT or messages record (a GeneralRecord)."""
    row = parse_row(rec, GeneralRecord, path, line)
    return row.prompt, row.response


def read_general(spec: MixSpec) -> list[tuple[str, Messages, Messages]]:
    """(key, prompt, response) of every record of a mix source; InputError naming file, line and field.

    Ids are optional and may repeat (a record without one is keyed by its line).
    """
    return [
        (row.id if row.id is not None else f"line{line}", row.prompt, row.response)
        for line, row in iter_records(spec.path, GeneralRecord, unique=False)
    ]


def draw(pool: int, n: int, rng: random.Random) -> list[int]:
    """n indices into a pool: successive permutations of range(pool), without replacement while they last."""
    out: list[int] = []
    while len(out) < n:
        perm = list(range(pool))
        rng.shuffle(perm)
        out += perm[: n - len(out)]
    return out


def interleave(
    items: list[TokenizedItem], draws: list[tuple[float, list[TokenizedItem]]]
) -> list[TokenizedItem]:
    """Constraint items with each source's draw spread evenly: round_half_up(i * ratio) placed after item i."""
    out: list[TokenizedItem] = []
    placed = [0] * len(draws)
    for i, item in enumerate(items, start=1):
        out.append(item)
        for k, (ratio, general) in enumerate(draws):
            due = min(len(general), round_half_up(i * ratio))
            out += general[placed[k] : due]
            placed[k] = due
    return out


def mix_items(
    items: list[TokenizedItem],
    specs: list[MixSpec],
    tokenizer: Any,
    seed: int,
    max_length: int,
    response_budget: int,
    packed: bool = True,
) -> tuple[list[TokenizedItem], dict[str, Any]]:
    """The training list with the general records blended in, and the mix statistics."""
    n = len(items)
    draws: list[tuple[float, list[TokenizedItem]]] = []
    sources = []
    for k, spec in enumerate(specs):
        stats = DataStats()
        pool = tokenize_rows(
            tokenizer, "sft", _general_rows(spec, k, stats), max_length, response_budget, stats
        )
        for item in pool:
            item.general = True
        if not pool:
            raise InputError(
                f"no usable general records ({stats.records} read, all with a prompt longer than "
                f"max_length={max_length})",
                path=spec.path,
            )
        want = round_half_up(spec.ratio * n)
        picks = draw(len(pool), want, random.Random(f"{seed}:{k}:{spec.spec}"))
        drawn = [pool[i] for i in picks]
        draws.append((spec.ratio, drawn))
        sources.append(
            {
                "spec": spec.spec,
                "path": spec.path,
                "ratio": spec.ratio,
                **stats.to_dict(),
                "drawn": len(drawn),
                "distinct": len(set(picks)),
                "tokens": sum(it.num_tokens(packed) for it in drawn),
                "realised_ratio": len(drawn) / n,
            }
        )
    mixed = interleave(items, draws)
    general = sum(len(d) for _, d in draws)
    summary = {
        "constraint": {"items": n, "tokens": sum(it.num_tokens(packed) for it in items)},
        "sources": sources,
        "general_items": general,
        "realised_ratio": general / n,
        "order": "interleaved evenly; the Trainer's seeded sampler shuffles it when shuffle=true",
    }
    return mixed, summary


def _general_rows(
    spec: MixSpec, k: int, stats: DataStats
) -> Iterator[tuple[str, list[Messages], list[Messages]]]:
    """(key, [prompt], [response]) of each record of mix source k, counted in stats."""
    for key, prompt, response in read_general(spec):
        stats.records += 1
        yield f"general{k}:{key}", [prompt], [response]


def check_mix(specs: list[MixSpec]) -> None:
    """Read every record of every mix source (no tokenizer); the first bad one raises InputError."""
    for spec in specs:
        read_general(spec)
