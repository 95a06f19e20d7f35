"""The training methods as one table: each method's record type, sequence layout, loss, runner and settings.

A method is a row of :data:`METHODS`, and this table is the only list of them: TrainConfig's
``method`` choices, its per-method checks and help panels, ``followkit.train.RUNNERS``, the
pipeline's chain check and the data reader all derive from it. The data reader, the collator and
the trainer look the method up here and never branch on its name (STYLE 15, 17). Adding a
preference method is one row plus its loss in followkit.train.losses. Importing this module
imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from followkit.core.registry import Registry, resolve

TRAINER = "followkit.train.trainer:run_training"
"""The runner of every method trained by followkit's own loop."""


@dataclass(frozen=True)
class Method:
    """One training method (``followkit train --method NAME``)."""

    name: str
    record: str  # the followkit.core.records type of its data file (a RECORD_TYPES name)
    prompts: tuple[str, ...]  # the record fields holding its prompts, in index order
    responses: tuple[str, ...]  # the record fields holding its responses, in index order
    layout: tuple[tuple[int, int], ...]  # (prompt index, response index) per sequence, in loss order
    loss: str | None = None  # "module:attr" of the preference loss over (items, len(layout)); None: SFT
    loss_settings: tuple[str, ...] = ()  # config fields passed to the loss under their own names
    reference: bool = False  # its loss reads reference log-probs (a reference forward or the cache)
    settings: tuple[str, ...] = ()  # the method-specific config fields that apply to it (loss_settings too)
    runner: str = TRAINER  # "module:attr" of the function that runs it: run(settings, resume=...)
    data_check: str | None = None  # "module:attr" reading its data file (path, skip); None: train.data
    sft_slots: tuple[int, ...] = (0,)  # the sequences its added SFT term trains on
    sft_weight: str | float | None = None  # the config field weighting the added SFT term, or a fixed weight
    sft_term: str | None = None  # "module:attr" of the added SFT term

    @property
    def n_seq(self) -> int:
        """Sequences (log-probs) one item contributes."""
        return len(self.layout)

    @property
    def preference(self) -> bool:
        """True for a preference method (a loss over several sequences per item)."""
        return self.loss is not None

    def loss_fn(self) -> Callable[..., Any]:
        """The preference loss function (imports torch)."""
        return resolve(self.loss or "")

    def sft_term_fn(self) -> Callable[..., Any]:
        """The added SFT term's function (imports torch)."""
        return resolve(self.sft_term or "")


_LOSSES = "followkit.train.losses"
_PACKED = ("packing", "response_budget")  # followkit's packed loop (not GRPO's)
_REF = ("ref_model", "precompute_ref_logps")  # a reference model, or its cached log-probs
PAIR = ("prompt",), ("chosen", "rejected"), ((0, 0), (0, 1))  # PreferencePair: chosen, rejected

METHODS: dict[str, Method] = {
    "sft": Method("sft", "SFTRecord", ("messages",), ("messages",), ((0, 0),), settings=(*_PACKED, "mix")),
    "dpo": Method(
        "dpo",
        "PreferencePair",
        *PAIR,
        loss=f"{_LOSSES}:dpo_from_batch",
        loss_settings=("beta", "label_smoothing", "loss_type"),
        reference=True,
        settings=(
            "beta",
            "label_smoothing",
            "loss_type",
            "sft_weight",
            "disable_dropout",
            *_REF,
            *_PACKED,
            "mix",
        ),
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
        loss_settings=("beta", "label_smoothing", "ablation"),
        reference=True,
        settings=(
            "beta",
            "label_smoothing",
            "pref_ftx",
            "ablation",
            "disable_dropout",
            *_REF,
            *_PACKED,
            "mix",
        ),
        sft_slots=(0, 2),  # y1|x1 and y2|x2
        sft_weight="pref_ftx",
        sft_term=f"{_LOSSES}:iopo_sft_term",
    ),
    "simpo": Method(  # DESIGN 12: reference-free; no SFT term, so no mix
        "simpo",
        "PreferencePair",
        *PAIR,
        loss=f"{_LOSSES}:simpo_from_batch",
        loss_settings=("simpo_beta", "simpo_gamma", "label_smoothing"),
        settings=("simpo_beta", "simpo_gamma", "label_smoothing", "disable_dropout", *_PACKED),
    ),
    "orpo": Method(  # DESIGN 12: reference-free; L_SFT(chosen) is the SFT term at a fixed weight 1
        "orpo",
        "PreferencePair",
        *PAIR,
        loss=f"{_LOSSES}:orpo_from_batch",
        loss_settings=("orpo_lambda",),
        settings=("orpo_lambda", "disable_dropout", *_PACKED, "mix"),
        sft_slots=(0,),  # the chosen response
        sft_weight=1.0,
        sft_term=f"{_LOSSES}:dpo_sft_term",
    ),
    "grpo": Method(  # TRL's GRPOTrainer: no layout or loss of ours; its KL reference is TRL's (kl_coef)
        "grpo",
        "Instruction",
        (),
        (),
        (),
        settings=(
            *("num_generations", "max_completion_length", "temperature", "kl_coef", "scale_rewards"),
            *("reward_mode", "reward_loose", "reasoning", "reasoning_markers", "min_words", "max_words"),
            *("judge", "judge_base_url", "judge_combine", "judge_weight", "min_content", "judge_gate"),
            *("reward_per_constraint", "use_vllm", "vllm_mode", "disable_dropout"),
        ),
        runner="followkit.train.grpo:run_grpo",
        data_check="followkit.train.grpo:load_prompts",
    ),
}
"""Method name -> its row: the only list of training methods."""


REGISTRY: Registry[Method] = Registry(
    "training method", {name: f"{__name__}:METHODS.{name}" for name in METHODS}, base=Method
)
"""The lookup over METHODS (one-line "did you mean" errors). It takes no plugins: METHODS is read
when followkit.train.config is imported (the ``method`` choices, help panels, per-method checks)
and by the pipeline's chain table, and a new method also needs its config fields in TrainConfig,
which a plugin row cannot add."""


def method(name: str) -> Method:
    """The row of a training method; a one-line InputError (with a "did you mean") for an unknown name."""
    return REGISTRY.get(name)


def methods_with(field: str) -> tuple[str, ...]:
    """The methods a config field applies to (in table order)."""
    return tuple(name for name, row in METHODS.items() if field in row.settings)


METHOD_FIELDS: frozenset[str] = frozenset(f for row in METHODS.values() for f in row.settings)
"""Config fields that apply to some methods only; every other field applies to all."""
