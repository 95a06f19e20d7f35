"""The training config: one pydantic model, strict (unknown keys and bad types are errors)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from followkit.core.reasoning import DEFAULT_MARKERS_TEXT
from followkit.core.records import RECORD_TYPES, Reads, Writes
from followkit.core.settings import Reasoning, ReasoningMarkers
from followkit.train.methods import METHOD_FIELDS, METHODS, methods_with
from followkit.train.methods import method as train_method


class TrainConfig(BaseModel):
    """Settings of `followkit train`; every field can be set in train.yaml or as key=value."""

    model_config = ConfigDict(extra="forbid")
    CLI_PANELS: ClassVar[dict[str, tuple[str, ...]]] = {}  # filled below from METHODS
    """--help groups the flags under these headings: the shared ones, then one per set of methods."""
    records_by: ClassVar[str] = "method"
    reads: ClassVar[dict[str, Reads]] = {
        name: Reads((RECORD_TYPES[row.record],), "--data") for name, row in METHODS.items()
    }
    writes: ClassVar[dict[str, Writes]] = {}  # a model, no records

    method: Literal[tuple(METHODS)] = Field(description="Training method (followkit.train.methods.METHODS).")  # type: ignore[valid-type]
    model: str = Field("embedded", description="'embedded' or a local HF model folder (the policy's start).")
    data: str = Field(
        description="Training JSONL, or several joined by commas (format depends on the method; see "
        "followkit.train.data; grpo: prompts, see followkit.train.grpo)."
    )
    out: str = Field(description="Output folder: checkpoints, adapter/, merged/, log.jsonl, config.yaml.")
    ref_model: str | None = Field(
        None, description="Reference checkpoint folder; default: the policy with its adapter disabled."
    )

    # Model and adapter
    lora: bool = Field(
        True, description="Train a LoRA adapter (on all linear layers); False: full fine-tuning."
    )
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha.")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="LoRA dropout.")
    lora_target_modules: str | list[str] = Field("all-linear", description="peft target_modules.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="Weights dtype.")
    attn_implementation: Literal["sdpa", "eager"] = Field(
        "sdpa", description="Attention kernel; both accept the packing's 4-D block mask."
    )

    # Data
    max_length: int = Field(2048, ge=8, description="Maximum tokens of a prompt plus one response.")
    response_budget: int = Field(
        256, ge=1, description="Response tokens kept when a long prompt must be cut to fit max_length."
    )
    packing: bool = Field(True, description="Prefix-shared packing (each prompt once per row).")
    skip_bad_records: bool = Field(False, description="Count and skip bad records instead of failing.")
    shuffle: bool = Field(True, description="Shuffle the training items each epoch.")
    mix: list[str] = Field(
        default_factory=list,
        description="General SFT data blended in (He et al. 2024): FILE:RATIO or builtin:general:RATIO, "
        "RATIO general records per training item (see followkit.train.mix); dpo needs sft_weight, iopo pref_ftx.",
    )

    # Losses
    beta: float = Field(0.1, gt=0.0, description="DPO / IOPO beta.")
    simpo_beta: float = Field(
        2.0, gt=0.0, description="SimPO: beta, the scale of the length-normalised log-prob margin."
    )
    simpo_gamma: float = Field(1.0, ge=0.0, description="SimPO: target reward margin gamma (gamma/beta 0.5).")
    orpo_lambda: float = Field(
        0.1, ge=0.0, description="ORPO: weight lambda of the odds-ratio term (TRL's ORPOConfig beta)."
    )
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="Conservative label smoothing eps.")
    loss_type: Literal["sigmoid", "ipo", "hinge"] = Field("sigmoid", description="DPO loss variant.")
    sft_weight: float = Field(0.0, ge=0.0, description="DPO+SFT: weight alpha of the SFT term on chosen.")
    pref_ftx: float = Field(0.0, ge=0.0, description="IOPO: weight of -(A/|y1| + C/|y2|).")
    ablation: Literal["no_input_pref", "no_output_pref"] | None = Field(None, description="IOPO ablation.")
    disable_dropout: bool = Field(
        True,
        description="Preference methods and GRPO: set every dropout of the policy and the reference to 0 "
        "(as TRL does).",
    )
    precompute_ref_logps: bool = Field(
        False, description="Compute reference log-probs once up front and cache them in OUT/ref_logps.jsonl."
    )

    # GRPO / RLVR (method grpo: TRL's GRPOTrainer; rewards from followkit.rewards)
    num_generations: int = Field(4, ge=2, description="GRPO: completions sampled per prompt (the group).")
    max_completion_length: int = Field(256, ge=1, description="GRPO: most tokens per sampled completion.")
    temperature: float = Field(1.0, gt=0.0, description="GRPO: sampling temperature.")
    kl_coef: float = Field(
        0.04, ge=0.0, description="GRPO: KL coefficient to the reference (TRL's beta); 0 skips the reference."
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="GRPO: divide advantages by the group's (or batch's) reward std, or not."
    )
    reward_mode: Literal["all", "fraction"] = Field(
        "fraction", description="GRPO reward: fraction of constraints followed, or all-or-nothing."
    )
    reward_loose: bool = Field(False, description="GRPO reward: IFEval's loose verdicts instead of strict.")
    reasoning: Reasoning = "strip"
    reasoning_markers: ReasoningMarkers = DEFAULT_MARKERS_TEXT
    min_words: int = Field(
        0, ge=0, description="GRPO reward: length penalty, factor words/min_words below this many words."
    )
    max_words: int | None = Field(
        None, ge=1, description="GRPO reward: length penalty, factor falling to 0 at twice this many words."
    )
    judge: str | None = Field(
        None, description="GRPO reward: judge model spec; its quality score (0-10)/10 joins the rule reward."
    )
    judge_base_url: str | None = Field(None, description="GRPO reward: server URL for an openai:NAME judge.")
    judge_combine: Literal["multiply", "add"] = Field(
        "multiply",
        description="GRPO reward: rule * quality, or (1 - judge_weight) * rule + judge_weight * quality.",
    )
    judge_weight: float = Field(0.5, ge=0.0, le=1.0, description="GRPO reward: the quality weight for 'add'.")
    min_content: int = Field(
        8,
        ge=0,
        description="GRPO reward: credit no constraint unless the answer has this many distinct words that do not "
        "echo the prompt or a constraint (0: off; docs/reward_hacks.md).",
    )
    judge_gate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="GRPO reward: with a judge, reward 0 where its quality is below this.",
    )
    reward_per_constraint: bool = Field(
        False,
        description="GRPO reward: one reward function per constraint slot, each normalised within its group "
        "before the sum (TRL's normalize_then_sum), instead of one reward.",
    )
    use_vllm: bool = Field(False, description="GRPO: generate with vLLM (GPUs; TRL's use_vllm).")
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate",
        description="GRPO with use_vllm: vLLM in the training process, or a `trl vllm-serve` server.",
    )

    # Optimisation
    learning_rate: float = Field(5e-6, gt=0.0, description="Peak learning rate.")
    num_train_epochs: float = Field(3.0, gt=0.0, description="Epochs.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: epochs decide).")
    per_device_train_batch_size: int = Field(1, ge=1, description="Items (pairs / groups) per device step.")
    gradient_accumulation_steps: int = Field(8, ge=1, description="Micro-batches per optimizer step.")
    lr_scheduler_type: str = Field("cosine", description="transformers scheduler name.")
    warmup_ratio: float = Field(0.1, ge=0.0, le=1.0, description="Warm-up share of the steps.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, ge=0.0, description="Gradient clipping.")
    gradient_checkpointing: bool = Field(False, description="Trade compute for activation memory.")
    seed: int = Field(42, description="Seed of initialisation and data order.")

    # Run bookkeeping
    logging_steps: int = Field(1, ge=1, description="Log every N optimizer steps (OUT/log.jsonl).")
    save_steps: int = Field(50, ge=1, description="Checkpoint every N optimizer steps.")
    save_total_limit: int | None = Field(3, description="Checkpoints kept.")
    report_to: list[str] = Field(
        default_factory=lambda: ["none"], description="tensorboard, trackio, wandb ..."
    )
    merge: bool = Field(
        True, description="Also write OUT/merged, a plain HF model folder with the tokenizer."
    )
    training_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra transformers TrainingArguments (e.g. deepspeed, fsdp, bf16), passed through.",
    )

    @field_validator("mix", mode="before")
    @classmethod
    def _check_mix(cls, value: Any) -> Any:
        from followkit.train.mix import parse_mix_spec

        value = [value] if isinstance(value, str) else value
        if isinstance(value, list):
            for spec in value:
                parse_mix_spec(spec)  # ValueError: a one-line reason naming the spec
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> TrainConfig:
        row = train_method(self.method)
        # A method-specific field set to a non-default value must be one of the method's settings
        # (a saved config.yaml holds every field at its default, and still loads for any method).
        fields = type(self).model_fields
        for name in sorted(METHOD_FIELDS - set(row.settings)):
            if getattr(self, name) != fields[name].get_default(call_default_factory=True):
                raise ValueError(
                    f"{name} does not apply to --method {self.method} "
                    f"({name} applies to --method {', '.join(methods_with(name))})"
                )
        if self.mix and isinstance(row.sft_weight, str) and not getattr(self, row.sft_weight):
            raise ValueError(
                f"mix with --method {self.method} trains general records through the SFT term only: "
                f"set {row.sft_weight} above 0"
            )
        if self.lora_dropout and self.disable_dropout and "disable_dropout" in row.settings:
            raise ValueError(
                "lora_dropout has no effect with disable_dropout=true "
                f"({', '.join(methods_with('disable_dropout'))}); set one of them"
            )
        if self.response_budget >= self.max_length:
            raise ValueError(
                f"response_budget ({self.response_budget}) must be below max_length ({self.max_length})"
            )
        if "num_generations" in row.settings:
            batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
            if batch % self.num_generations:
                raise ValueError(
                    f"per_device_train_batch_size * gradient_accumulation_steps ({batch}) must be a multiple "
                    f"of num_generations ({self.num_generations}): each generation batch holds whole groups"
                )
        if self.max_words is not None and self.max_words < self.min_words:
            raise ValueError(f"max_words ({self.max_words}) must be at least min_words ({self.min_words})")
        if self.judge_base_url and not self.judge:
            raise ValueError("judge_base_url needs judge")
        if self.judge_gate and not self.judge:
            raise ValueError("judge_gate needs judge")
        if self.reward_per_constraint and self.judge:
            raise ValueError("reward_per_constraint does not combine with judge (one rule reward per slot)")
        return self


def _panels() -> dict[str, tuple[str, ...]]:
    """--help panels: the fields every method reads, then one panel per set of methods sharing fields."""
    shared = {
        "Model and adapter": (
            "lora",
            "lora_r",
            "lora_alpha",
            "lora_dropout",
            "dtype",
            "attn_implementation",
        ),
        "Data": ("max_length", "skip_bad_records", "shuffle"),
        "Optimisation": (
            "learning_rate",
            "num_train_epochs",
            "max_steps",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "lr_scheduler_type",
            "warmup_ratio",
            "weight_decay",
            "max_grad_norm",
            "gradient_checkpointing",
            "seed",
        ),
        "Run bookkeeping": ("logging_steps", "save_steps", "save_total_limit", "report_to", "merge"),
    }
    by_methods: dict[str, list[str]] = {}
    for name in TrainConfig.model_fields:  # in the order the fields are declared
        if name in METHOD_FIELDS:
            by_methods.setdefault(f"--method {', '.join(methods_with(name))}", []).append(name)
    return shared | {title: tuple(names) for title, names in by_methods.items()}


TrainConfig.CLI_PANELS = _panels()

GRPO_ONLY = frozenset(name for name in METHOD_FIELDS if methods_with(name) == ("grpo",))
"""Fields that only --method grpo reads; setting one for another method is an error."""

NOT_GRPO = frozenset(METHOD_FIELDS - set(METHODS["grpo"].settings))
"""Method-specific fields that --method grpo does not read; setting one is an error."""
