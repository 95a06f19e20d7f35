"""One training loop for SFT, DPO (+SFT), IOPO, SimPO and ORPO, on transformers' Trainer.

:class:`FollowkitTrainer` is a ``transformers.Trainer`` whose ``compute_loss`` runs the packed
forward pass (followkit.train.packing) and looks the method up in followkit.train.methods.METHODS
(its sequence layout, loss and SFT term); it never branches on the method's name. Everything else, distribution (DDP, DeepSpeed ZeRO,
FSDP through ``accelerate launch``), gradient accumulation, checkpoints, resume and
``report_to``, is the Trainer's.

Assumptions and limits:

- Causal LMs whose forward accepts a custom 4-D attention mask, ``position_ids`` and
  ``logits_to_keep`` (Llama, Qwen2/3, Mistral, Gemma ... in transformers 5) with the ``sdpa``
  or ``eager`` attention; FlashAttention kernels take no 4-D mask.
- The reference (methods whose row has ``reference``: DPO, IOPO) is the policy with its LoRA
  adapter disabled, a given checkpoint, or (full fine-tuning without one) a frozen copy of the
  starting model; or log-probs cached once. Reference-free methods (SimPO, ORPO) run no reference.
- The loss of a micro-batch is the mean over its items (TRL's convention); the Trainer divides
  by the accumulation steps, and DDP averages over processes, so equal global batches give
  equal losses whatever the process count (for SFT, equal when micro-batches have equal tokens).
- A non-finite loss on any process stops training before that step is saved, so the last
  checkpoint on disk is the last good one; train() then raises.
- Preference methods run with every dropout probability of the policy and the reference set to 0
  (``disable_dropout``, as TRL's DPOTrainer and the IOPO authors' trainer do): with dropout the
  policy and the reference would see different masks, and step-0 losses would not be log 2.
- ``warmup_ratio`` becomes ``ceil(ratio * total optimizer steps)`` warm-up steps once the Trainer
  knows the total (transformers reads a ``warmup_steps`` of 1 or more as a count of steps), by
  ``RatioWarmup``, which GRPO's trainer shares.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from followkit.core.errors import FollowkitError
from followkit.train.config import TrainConfig
from followkit.train.data import TokenizedItem
from followkit.train.losses import sft_loss
from followkit.train.methods import method as train_method
from followkit.train.packing import collate, sequence_logps


def warmup_steps(ratio: float, total_steps: int) -> int:
    """Warm-up steps for a warm-up share of the optimizer steps: ceil(ratio * total_steps)."""
    # round() first: 0.1 * 30 is 3.0000000000000004 in floating point, which must give 3, not 4.
    return math.ceil(round(ratio * total_steps, 9))


def disable_dropout(model: torch.nn.Module) -> None:
    """Set every dropout probability of a model to 0: nn.Dropout modules and float *dropout attributes."""
    # TRL only zeroes nn.Dropout modules; Llama, Qwen and others keep the attention dropout as a float
    # attribute copied from the config at init, so the attributes and the config are zeroed too.
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        for name, value in list(vars(module).items()):
            if "dropout" in name and isinstance(value, float):
                setattr(module, name, 0.0)
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "to_dict"):
            for name, value in config.to_dict().items():
                if "dropout" in name and isinstance(value, float):
                    setattr(config, name, 0.0)


def batch_loss(
    settings: TrainConfig,
    logps: torch.Tensor,
    token_logps: torch.Tensor,
    ref: torch.Tensor | None,
    inputs: dict[str, torch.Tensor],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean loss of a micro-batch and its metrics: SFT, or the preference loss (+ its SFT term).

    Mixed-in general items (``inputs["general"]``) are left out of the preference loss and its
    metrics, so its value on the preference items is what it is without them; their tokens join
    the SFT term (followkit.train.mix).
    """
    method, s = train_method(settings.method), settings
    if not method.preference:
        return sft_loss(token_logps, torch.ones_like(token_logps)), {}
    assert ref is not None or not method.reference
    general = inputs.get("general")
    pref = (
        ~general if general is not None else torch.ones(logps.size(0), dtype=torch.bool, device=logps.device)
    )
    kw: dict[str, Any] = {name: getattr(s, name) for name in method.loss_settings}
    metrics: dict[str, torch.Tensor] = {}
    if bool(pref.any()):
        per_item, metrics = method.loss_fn()(
            logps[pref], ref[pref] if ref is not None else None, inputs["lengths"][pref], **kw
        )
        loss = per_item.mean()
        metrics["logps/policy"] = logps[pref].detach().mean(1)
        if ref is not None:
            metrics["logps/ref"] = ref[pref].mean(1)
        metrics["loss/preference"] = loss.detach().reshape(1)
    else:  # general items only: no preference term (a zero that keeps the graph), nothing to log for it
        loss = logps.sum() * 0.0
    weight = method.sft_weight if not isinstance(method.sft_weight, str) else getattr(s, method.sft_weight)
    if weight:
        sft = method.sft_term_fn()(logps, token_logps, inputs["lengths"], inputs["slots"])
        loss = loss + weight * sft
        metrics["loss/sft"] = sft.detach().reshape(1)
    return loss, metrics


class ItemDataset(torch.utils.data.Dataset):
    """A list of tokenized items as a torch Dataset."""

    def __init__(self, items: list[TokenizedItem]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> TokenizedItem:
        return self.items[i]


class PackingCollator:
    """The Trainer's data collator: items -> one packed (or unpacked) batch."""

    def __init__(self, pad_id: int, packed: bool, n_seq: int | None = None):
        self.pad_id, self.packed, self.n_seq = pad_id, packed, n_seq

    def __call__(self, items: list[TokenizedItem]) -> dict[str, torch.Tensor]:
        return collate(items, packed=self.packed, pad_id=self.pad_id, n_seq=self.n_seq)


class NonFiniteLoss(FollowkitError):
    """Training met a NaN or infinite loss and stopped."""


class JsonlLogCallback(TrainerCallback):
    """Append each log event (step, loss, rewards, tokens/s ...) to OUT/log.jsonl (main process)."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            rec = {"step": state.global_step, "epoch": state.epoch, **logs}
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")


class StopOnNonFinite(TrainerCallback):
    """Stop, without saving, at the end of a step whose loss was not finite."""

    def __init__(self, trainer: FollowkitTrainer):
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        if self.trainer.nonfinite_step is not None:
            control.should_training_stop = True
            control.should_save = False
            control.should_log = False
            control.should_evaluate = False
        return control


class RatioWarmup:
    """Trainer mixin: `warmup_ratio` becomes warmup_steps(ratio, total) once the Trainer knows the total.

    Every method trains through it (FollowkitTrainer, and TRL's GRPOTrainer in followkit.train.grpo),
    so one ratio gives the same warm-up steps whatever the method. The trainer sets `settings`
    (a TrainConfig); an explicit `warmup_steps` in its training_args wins.
    """

    settings: TrainConfig

    def set_initial_training_values(self, args, dataloader, *rest):
        """The Trainer's step counts; sets the warm-up steps from warmup_ratio once the total is known."""
        values = super().set_initial_training_values(args, dataloader, *rest)  # type: ignore[misc]
        if "warmup_steps" not in self.settings.training_args:  # an explicit count wins
            # Set here, before the scheduler (or DeepSpeed's) is built from args.
            args.warmup_steps = warmup_steps(self.settings.warmup_ratio, values[-1])
        return values


class FollowkitTrainer(RatioWarmup, Trainer):
    """transformers.Trainer with a packed forward and a loss chosen by method name."""

    def __init__(
        self,
        *args: Any,
        settings: TrainConfig,
        ref_model: torch.nn.Module | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.method = train_method(settings.method)
        self.n_seq = self.method.n_seq
        self.ref_model = ref_model
        self.eager = settings.attn_implementation == "eager"
        # compute_loss returns a per-micro-batch mean; the Trainer must divide by accumulation.
        self.model_accepts_loss_kwargs = False
        self.nonfinite_step: int | None = None
        self._metrics: dict[str, list[float]] = defaultdict(list)
        self._tokens = 0
        self._clock = time.perf_counter()
        self.add_callback(StopOnNonFinite(self))

    def _get_train_sampler(self, train_dataset=None):
        if not self.settings.shuffle:
            return torch.utils.data.SequentialSampler(train_dataset or self.train_dataset)
        return super()._get_train_sampler(train_dataset)

    @contextlib.contextmanager
    def _reference(self, model: torch.nn.Module):
        """The model to run for reference log-probs: a separate one, or the policy without adapter."""
        if self.ref_model is not None:
            yield self.ref_model
            return
        unwrapped = self.accelerator.unwrap_model(model)
        with unwrapped.disable_adapter():
            yield model

    def reference_logps(
        self, model: torch.nn.Module, inputs: dict[str, torch.Tensor], n_items: int
    ) -> torch.Tensor:
        """Summed reference log-probs (items, sequences) for a batch, cached or computed now."""
        if "ref_logps" in inputs:
            return inputs["ref_logps"]
        with torch.no_grad(), self._reference(model) as ref:
            logps, _ = sequence_logps(ref, inputs, n_items, self.n_seq, eager=self.eager)
        return logps.detach()

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Mean loss of the micro-batch: SFT, or the method's preference loss (+ its SFT term)."""
        n_items = inputs["lengths"].size(0)
        logps, token_logps = sequence_logps(model, inputs, n_items, self.n_seq, eager=self.eager)
        ref = None
        if self.method.reference:  # reference-free methods (SimPO, ORPO) never run or cache one
            ref = self.reference_logps(model, inputs, n_items).to(logps.dtype)
        loss, metrics = batch_loss(self.settings, logps, token_logps, ref, inputs)
        self._check_finite(loss)
        self._record(loss, metrics, inputs)
        return loss

    def _check_finite(self, loss: torch.Tensor) -> None:
        bad = (~torch.isfinite(loss.detach())).float().reshape(1)
        if self.accelerator.num_processes > 1:  # all processes must stop at the same step
            bad = self.accelerator.reduce(bad, reduction="sum")
        if bad.item() > 0 and self.nonfinite_step is None:
            self.nonfinite_step = self.state.global_step + 1

    def _record(
        self, loss: torch.Tensor, metrics: dict[str, torch.Tensor], inputs: dict[str, torch.Tensor]
    ) -> None:
        if not self.model.training:
            return
        for name, value in metrics.items():
            self._metrics[name].append(
                self.accelerator.gather_for_metrics(value.detach()).float().mean().item()
            )
        self._tokens += int(self.accelerator.gather_for_metrics(inputs["num_tokens"].reshape(1)).sum().item())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the step's mean metrics and tokens/s to the Trainer's log event."""
        if "loss" in logs:  # a training log (not the end-of-train summary)
            for name, values in self._metrics.items():
                if values:
                    logs[name] = sum(values) / len(values)
            now = time.perf_counter()
            logs["tokens"] = self._tokens
            logs["tokens_per_second"] = self._tokens / max(now - self._clock, 1e-9)
            self._metrics.clear()
            self._tokens, self._clock = 0, now
        super().log(logs, start_time)


def _trim_log(path: Path, last_step: int) -> None:
    """Drop log lines after the checkpoint a resumed run restarts from (they will be logged again)."""
    if not path.exists():
        return
    keep = [
        ln
        for ln in path.read_text(encoding="utf-8").splitlines()
        if ln.strip() and json.loads(ln)["step"] <= last_step
    ]
    path.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")


def _load_model(path: Path, settings: TrainConfig) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        path, dtype=getattr(torch, settings.dtype), attn_implementation=settings.attn_implementation
    )


def _frozen(model: torch.nn.Module) -> torch.nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def precompute_reference(
    trainer: FollowkitTrainer, items: list[TokenizedItem], cache: Path, batch_size: int
) -> tuple[int, int]:
    """Fill items' ref_logps from OUT/ref_logps.jsonl, computing (and appending) the missing ones.

    Returns (cached, computed) counts. The cache key is the item key plus a hash of its token
    ids, so a changed data file or tokenizer never reuses stale numbers.
    """
    from followkit.core.io import AppendLog, text_sha256

    def key(it: TokenizedItem) -> str:
        return f"{it.key}:{text_sha256(json.dumps([it.prompts, it.responses]))[:16]}"

    cached = computed = 0
    with trainer.accelerator.main_process_first(), AppendLog(cache, key="key") as log:
        todo = []
        for it in items:
            rec = log.done.get(key(it))
            if rec is not None:
                it.ref_logps = rec["ref_logps"]
                cached += 1
            else:
                todo.append(it)
        model = trainer.model
        was_training = model.training
        model.eval()
        device = trainer.accelerator.device
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            batch = {k: v.to(device) for k, v in collate(chunk, packed=trainer.settings.packing).items()}
            logps = trainer.reference_logps(model, batch, len(chunk)).float().cpu()
            for it, row in zip(chunk, logps.tolist(), strict=True):
                it.ref_logps = row
                if trainer.accelerator.is_main_process:
                    log.append({"key": key(it), "ref_logps": row})
            computed += len(chunk)
        model.train(was_training)
    return cached, computed


@contextlib.contextmanager
def peft_quietly() -> Iterator[None]:
    """peft reads `model.is_gradient_checkpointing` (and TRL calls `gradient_checkpointing_enable/disable`),
    which transformers 5 deprecates with a FutureWarning on every LoRA run; they are peft's and TRL's to
    change, and users should not read them as ours."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        yield


def checkpointing_names() -> tuple[str, str]:
    """The TrainingArguments names of activation checkpointing and its kwargs: transformers 5.25 renamed
    `gradient_checkpointing(_kwargs)` to `activation_checkpointing(_kwargs)` and warns on the old ones."""
    import dataclasses

    from transformers import TrainingArguments

    if "activation_checkpointing" in {f.name for f in dataclasses.fields(TrainingArguments)}:
        return "activation_checkpointing", "activation_checkpointing_kwargs"
    return "gradient_checkpointing", "gradient_checkpointing_kwargs"


def base_arguments(settings: TrainConfig, out: Path) -> dict[str, Any]:
    """TrainingArguments every method shares (the GRPO config adds its own); training_args not applied."""
    arguments: dict[str, Any] = dict(
        output_dir=str(out),
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.num_train_epochs,
        max_steps=settings.max_steps,
        lr_scheduler_type=settings.lr_scheduler_type,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        logging_steps=settings.logging_steps,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=settings.save_total_limit,
        report_to=settings.report_to,
        seed=settings.seed,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        # Without a GPU, use_cpu makes accelerate join a torchrun / `accelerate launch` group over gloo.
        use_cpu=not torch.cuda.is_available(),
    )
    flag, kwargs = checkpointing_names()
    # Explicit either way: TRL's GRPOConfig turns checkpointing on by default.
    arguments[flag] = settings.gradient_checkpointing
    if settings.gradient_checkpointing:
        arguments[kwargs] = {"use_reentrant": False}
    return arguments


def merge_adapter(base: Path, adapter: Path, out: Path, settings: TrainConfig, tokenizer: Any) -> None:
    """Write base + LoRA adapter as one plain HF model folder (with the tokenizer)."""
    from peft import PeftModel

    model = _load_model(base, settings)
    with peft_quietly():
        merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)


def lora_config(settings: TrainConfig) -> Any:
    """The peft LoraConfig of a run's lora_* settings (a causal LM)."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def start_log(trainer: Any, out: Path, resume: bool) -> str | None:
    """Log to OUT/log.jsonl; the checkpoint to resume from (the log trimmed to it), or None (a fresh log)."""
    from transformers.trainer_utils import get_last_checkpoint

    log_path = out / "log.jsonl"
    trainer.add_callback(JsonlLogCallback(log_path))
    checkpoint = get_last_checkpoint(str(out)) if resume else None
    if checkpoint:
        _trim_log(log_path, int(Path(checkpoint).name.split("-")[-1]))
    elif log_path.exists() and trainer.accelerator.is_main_process:
        log_path.unlink()  # a fresh run starts a fresh log
    return checkpoint


def save_run(
    trainer: Any, tokenizer: Any, base: Path, out: Path, settings: TrainConfig, summary: dict[str, Any]
) -> None:
    """Save the adapter (and the merged model with settings.merge) or the full model, then the manifest."""
    from followkit.core.manifest import write_manifest

    if settings.lora:
        trainer.save_model(str(out / "adapter"))
        if trainer.accelerator.is_main_process:
            tokenizer.save_pretrained(out / "adapter")
            if settings.merge:
                merge_adapter(base, out / "adapter", out / "merged", settings, tokenizer)
    else:
        trainer.save_model(str(out / "merged"))
        if trainer.accelerator.is_main_process:
            tokenizer.save_pretrained(out / "merged")
    if trainer.accelerator.is_main_process:
        write_manifest(out, "train", settings.model_dump(), **summary)
    trainer.accelerator.wait_for_everyone()


def run_training(settings: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train as configured; write OUT/{adapter,merged,log.jsonl,config.yaml,manifest.json}; return a summary."""
    import yaml
    from transformers import AutoTokenizer, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from followkit.core.io import write_json
    from followkit.models import resolve_model_path
    from followkit.train.data import load_items

    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(settings.model_dump(), sort_keys=False), encoding="utf-8")
    base = resolve_model_path(settings.model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    items, stats = load_items(
        settings.data,
        settings.method,
        tokenizer,
        settings.max_length,
        settings.response_budget,
        skip_bad_records=settings.skip_bad_records,
    )
    data_stats = stats.to_dict()
    if settings.mix:
        from followkit.train.mix import mix_items, parse_mix_spec

        items, data_stats["mix"] = mix_items(
            items,
            [parse_mix_spec(m) for m in settings.mix],
            tokenizer,
            settings.seed,
            settings.max_length,
            settings.response_budget,
            packed=settings.packing,
        )
    write_json(out / "data_stats.json", data_stats)

    set_seed(settings.seed)  # the LoRA init draws random numbers before the Trainer seeds anything
    model = _load_model(base, settings)
    if settings.lora:
        from peft import get_peft_model

        lora = lora_config(settings)
        with peft_quietly():
            model = get_peft_model(model, lora)
    ref_model = None
    row = train_method(settings.method)
    if row.reference and (settings.ref_model or not settings.lora):
        ref_path = resolve_model_path(settings.ref_model) if settings.ref_model else base
        ref_model = _frozen(_load_model(ref_path, settings))
    if row.preference and settings.disable_dropout:
        disable_dropout(model)  # with LoRA this covers the reference too (the same model)
        if ref_model is not None:
            disable_dropout(ref_model)

    arguments = base_arguments(settings, out)
    arguments["warmup_steps"] = 0  # set from warmup_ratio once the Trainer knows the total steps
    arguments["remove_unused_columns"] = False
    arguments.update(settings.training_args)  # explicit TrainingArguments win
    args = TrainingArguments(**arguments)
    trainer = FollowkitTrainer(
        model=model,
        args=args,
        train_dataset=ItemDataset(items),
        data_collator=PackingCollator(tokenizer.pad_token_id, settings.packing, row.n_seq),
        processing_class=tokenizer,
        settings=settings,
        ref_model=ref_model,
    )
    if ref_model is not None:
        ref_model.to(trainer.accelerator.device)
    checkpoint = start_log(trainer, out, resume)
    ref_counts = None
    if settings.precompute_ref_logps and row.reference:  # TrainConfig refuses it for the others
        batch = max(1, settings.per_device_train_batch_size)
        pref_items = [it for it in items if not it.general]  # general items need no reference
        ref_counts = precompute_reference(trainer, pref_items, out / "ref_logps.jsonl", batch)
        trainer.ref_model = None
        if ref_model is not None:
            del ref_model  # cached numbers replace the second model in memory

    result = trainer.train(resume_from_checkpoint=checkpoint)
    if trainer.nonfinite_step is not None:
        last = get_last_checkpoint(str(out))
        raise NonFiniteLoss(
            f"non-finite loss at step {trainer.nonfinite_step}; training stopped; "
            + (f"last good checkpoint: {last}" if last else "no checkpoint was saved before it")
        )

    summary: dict[str, Any] = {
        "train_runtime_s": result.metrics.get("train_runtime"),
        "train_loss": result.training_loss,
        "global_step": result.global_step,
        "items": len(items),
        "data_stats": data_stats,
        "ref_logps_cache": {"cached": ref_counts[0], "new": ref_counts[1]} if ref_counts else None,
        "resumed_from": checkpoint,
    }
    save_run(trainer, tokenizer, base, out, settings, summary)
    return summary
