"""The training methods as one table: each method's record type, sequence layout, loss and SFT slots.

A method is a row of :data:`METHODS`; the data reader, the collator and the trainer look the
method up here and never branch on its name (STYLE 15, 17). Adding a preference method is one
row plus its loss in followkit.train.losses. Importing this module imports no torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Method:
    """One training method (``followkit train --method NAME``)."""

    name: str
    record: str  # the followkit.records type of its data file (a RECORD_TYPES name)
    prompts: tuple[str, ...]  # the record fields holding its prompts, in index order
    responses: tuple[str, ...]  # the record fields holding its responses, in index order
    layout: tuple[tuple[int, int], ...]  # (prompt index, response index) per sequence, in loss order
    loss: str | None = None  # "module:attr" of the preference loss over (items, len(layout)); None: SFT
    variant: str | None = None  # the config field passed to the loss under the same name
    sft_slots: tuple[int, ...] = (0,)  # the sequences its added SFT term trains on
    sft_weight: str | None = None  # the config field weighting the added SFT term
    sft_term: str | None = None  # "module:attr" of the added SFT term

    @property
    def n_seq(self) -> int:
        """Sequences (log-probs) one item contributes."""
        return len(self.layout)

    @property
    def preference(self) -> bool:
        """True for a preference method: it needs reference log-probs."""
        return self.loss is not None

    def loss_fn(self) -> Callable[..., Any]:
        """The preference loss function (imports torch)."""
        return _load(self.loss or "")

    def sft_term_fn(self) -> Callable[..., Any]:
        """The added SFT term's function (imports torch)."""
        return _load(self.sft_term or "")


def _load(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


_LOSSES = "followkit.train.losses"

METHODS: dict[str, Method] = {
    "sft": Method("sft", "SFTRecord", ("messages",), ("messages",), ((0, 0),)),
    "dpo": Method(
        "dpo",
        "PreferencePair",
        ("prompt",),
        ("chosen", "rejected"),
        ((0, 0), (0, 1)),  # chosen, rejected
        loss=f"{_LOSSES}:dpo_from_batch",
        variant="loss_type",
        sft_slots=(0,),  # the chosen response
        sft_weight="sft_weight",
        sft_term=f"{_LOSSES}:dpo_sft_term",
    ),
    "iopo": Method(
        "iopo",
        "IOPOGroup",
        ("x1", "x2"),
        ("y1", "y2"),
        ((0, 0), (0, 1), (1, 1), (1, 0)),  # A=(x1,y1), B=(x1,y2), C=(x2,y2), D=(x2,y1)
        loss=f"{_LOSSES}:iopo_from_batch",
        variant="ablation",
        sft_slots=(0, 2),  # y1|x1 and y2|x2
        sft_weight="pref_ftx",
        sft_term=f"{_LOSSES}:iopo_sft_term",
    ),
}
"""Method name -> its row; GRPO runs on TRL (followkit.train.RUNNERS) and has none."""


def method(name: str) -> Method:
    """The row of a training method; a one-line InputError for an unknown name."""
    if name not in METHODS:
        from followkit.errors import InputError

        raise InputError(f"unknown training method '{name}'; expected {', '.join(METHODS)}")
    return METHODS[name]
