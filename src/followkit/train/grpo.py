"""GRPO / RLVR on TRL's GRPOTrainer, rewarded by the constraint checkers (followkit.rewards).

Input (JSONL, one prompt a line), either form, mixed freely:
  - followkit Instruction (``synth compose`` output): ``id, prompt, constraints: [{id, kwargs, text}]``;
  - IFEval row: ``key, prompt, instruction_id_list, kwargs``.
Each row becomes ``{"prompt": [{"role": "user", "content": prompt}], "id": str,
"constraints": JSON text}``: a conversational prompt (TRL applies the chat template) and the spec
as text (Arrow would otherwise merge every kwargs dict into one struct). Every row is validated
before the model loads; a bad one fails with file:line:field.

Output: the same folder as the other methods: OUT/config.yaml, log.jsonl, adapter/, merged/,
manifest.json, data_stats.json, checkpoints.

Logged per step into log.jsonl (TRL's names; formulas in followkit.rewards and TRL's GRPO docs):
``reward`` / ``reward_std`` (mean and std of the summed reward), ``rewards/<func>/mean|std``,
``constraints/<family>/mean|std`` (0/1 verdicts per constraint family), ``frac_reward_zero_std``
(share of groups whose rewards are all equal: no signal), ``kl`` (mean per-token KL to the
reference, with kl_coef > 0), ``completions/mean_length`` (tokens) and the clip ratios.

Assumptions and limits:
- The reference for the KL term is the policy with its LoRA adapter disabled (TRL's behaviour);
  full fine-tuning (lora=false) with kl_coef > 0 keeps a second copy of the model.
- Generation runs in the training process (transformers ``generate``), or in vLLM with use_vllm.
- Prompts are not truncated: a prompt plus max_completion_length tokens must fit the model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from followkit.core.errors import InputError
from followkit.train.config import TrainConfig


def load_prompts(
    path: str | Path, skip_bad_records: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """GRPO rows from prompt JSONL files (followkit Instructions or IFEval rows; several joined by commas),
    and counts by form."""
    from followkit.constraints.registry import registry
    from followkit.core.errors import ConstraintError
    from followkit.core.io import iter_jsonl
    from followkit.core.records import ConstrainedPrompt, parse_row
    from followkit.rewards.rlvr import row_checks
    from followkit.train.data import data_files

    rows: list[dict[str, Any]] = []
    stats: dict[str, Any] = {"rows": 0, "followkit": 0, "ifeval": 0, "skipped": 0, "judged_constraints": 0}
    known = registry()
    files = data_files(path)
    for path, line, rec in ((f, line, rec) for f in files for line, rec in iter_jsonl(f)):
        stats["rows"] += 1
        try:
            if "turns" in rec and "prompt" not in rec:
                # Its rollouts would need the policy's own earlier answers in the chat: not built here.
                raise InputError(
                    "a multi-turn record (synth compose --turns): train grpo takes single-turn prompts",
                    path,
                    line,
                    "turns",
                )
            form = "ifeval" if "instruction_id_list" in rec and "constraints" not in rec else "followkit"
            # The rule checks first, on the row as written, so their errors name its own fields.
            if form == "ifeval":
                row_checks(f"{path}:{line}", rec["instruction_id_list"], rec.get("kwargs"))
            elif "constraints" in rec:
                row_checks(f"{path}:{line}", constraints=rec["constraints"])
            row = parse_row(rec, ConstrainedPrompt, path, line, shape=form)
            cons = [c for c in row.constraints if c.id in known]  # judged ones left out
            stats["judged_constraints"] += len(row.constraints) - len(cons)
            if not cons:
                raise InputError(
                    "holds no rule-checkable constraint (nothing to reward)", path, line, "constraints"
                )
        except (InputError, ConstraintError):
            if not skip_bad_records:
                raise
            stats["skipped"] += 1
            continue
        stats[form] += 1
        rows.append(
            {
                "prompt": [{"role": "user", "content": row.prompt}],
                "id": row.id,
                "constraints": json.dumps(
                    [{"id": c.id, "kwargs": c.kwargs} for c in cons], ensure_ascii=False
                ),
            }
        )
    if not rows:
        raise InputError("no usable prompt rows", path=",".join(files))
    return rows, stats


def build_reward(settings: TrainConfig, slots: int = 1) -> Any:
    """The run's reward function (followkit.rewards), as configured; with reward_per_constraint, a
    list of one reward per constraint slot (`slots`: the most constraints a row holds)."""
    from followkit.rewards.rlvr import HybridReward, constraint_slot_rewards, make_constraint_reward

    length = None
    if settings.min_words or settings.max_words is not None:
        length = (settings.min_words, settings.max_words)
    reward = make_constraint_reward(
        mode=settings.reward_mode,
        loose=settings.reward_loose,
        length_penalty=length,
        judge=settings.judge,
        combine=settings.judge_combine,
        weight=settings.judge_weight,
        reasoning=settings.reasoning,
        reasoning_markers=settings.reasoning_markers,
        min_content=settings.min_content,
        judge_gate=settings.judge_gate,
    )
    if settings.reward_per_constraint:
        return constraint_slot_rewards(slots, reward)
    if isinstance(reward, HybridReward) and settings.judge_base_url:
        reward.backend_options["base_url"] = settings.judge_base_url
    return reward


def _slots(row: dict[str, Any]) -> int:
    cons = row.get("constraints") or row.get("instruction_id_list") or []
    if isinstance(cons, str):
        cons = json.loads(cons)
    return max(1, len(cons))


def grpo_arguments(settings: TrainConfig, out: Path) -> dict[str, Any]:
    """TRL GRPOConfig keyword arguments from the followkit settings (training_args win)."""
    from followkit.train.trainer import base_arguments  # torch-heavy: imported when training

    arguments = base_arguments(settings, out)
    arguments.update(
        warmup_steps=0,  # set from warmup_ratio once the Trainer knows the total steps (RatioWarmup)
        shuffle_dataset=settings.shuffle,
        disable_dropout=settings.disable_dropout,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        beta=settings.kl_coef,
        scale_rewards=settings.scale_rewards,
        use_vllm=settings.use_vllm,
        vllm_mode=settings.vllm_mode,
    )
    if settings.reward_per_constraint:
        arguments["multi_objective_aggregation"] = "normalize_then_sum"
    if settings.dtype == "bfloat16":
        arguments["bf16"] = True
    arguments.update(settings.training_args)  # explicit arguments win
    return arguments


def grpo_trainer_class() -> type:
    """TRL's GRPOTrainer with the warm-up every method shares (trainer.RatioWarmup); takes `settings=`."""
    from trl import GRPOTrainer

    from followkit.train.trainer import RatioWarmup

    class FollowkitGRPOTrainer(RatioWarmup, GRPOTrainer):
        def __init__(self, *args: Any, settings: TrainConfig, **kwargs: Any):
            self.settings = settings
            super().__init__(*args, **kwargs)

    return FollowkitGRPOTrainer


def run_grpo(settings: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train with GRPO as configured; write OUT/{adapter,merged,log.jsonl,config.yaml,manifest.json}."""
    import yaml
    from datasets import Dataset
    from transformers import AutoTokenizer, set_seed
    from trl import GRPOConfig

    from followkit.core.io import write_json
    from followkit.models import resolve_model_path
    from followkit.train.trainer import _load_model, lora_config, peft_quietly, save_run, start_log

    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(settings.model_dump(), sort_keys=False), encoding="utf-8")
    rows, stats = load_prompts(settings.data, settings.skip_bad_records)
    write_json(out / "data_stats.json", stats)
    reward = build_reward(settings, slots=max(_slots(r) for r in rows))
    base = resolve_model_path(settings.model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    set_seed(settings.seed)  # the LoRA init draws random numbers before the Trainer seeds anything
    model = _load_model(base, settings)
    peft_config = lora_config(settings) if settings.lora else None
    args = GRPOConfig(**grpo_arguments(settings, out))
    with peft_quietly():
        trainer = grpo_trainer_class()(
            model=model,
            reward_funcs=reward if isinstance(reward, list) else [reward],
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=peft_config,
            settings=settings,
        )
        checkpoint = start_log(trainer, out, resume)
        result = trainer.train(resume_from_checkpoint=checkpoint)
    loss = result.training_loss
    summary: dict[str, Any] = {
        "train_runtime_s": result.metrics.get("train_runtime"),
        "train_loss": loss if loss is not None and math.isfinite(loss) else float("nan"),
        "global_step": result.global_step,
        "items": len(rows),
        "data_stats": stats,
        "reward": repr(reward),
        "resumed_from": checkpoint,
    }
    save_run(trainer, tokenizer, base, out, settings, summary)
    return summary
