"""Training: SFT, DPO (+SFT), IOPO, SimPO and ORPO with LoRA, cached reference log-probs and prefix-shared packing; GRPO on TRL.

- ``losses``: the losses as pure functions of summed response log-probs (public API).
- ``data``: the JSONL data contract, chat-template tokenization and truncation.
- ``packing``: prefix-shared rows, the block attention mask, log-probs at label positions only.
- ``trainer``: the one training loop (a transformers.Trainer) and ``run_training``.
- ``grpo``: GRPO / RLVR on TRL's GRPOTrainer with followkit.rewards (``run_grpo``).
- ``config``: ``TrainConfig``, the settings of ``followkit train``.
- ``methods``: ``METHODS``, the one table of training methods (no torch).
- ``RUNNERS``: method name -> the function that runs it ("module:attr", imported on use).

Importing this package imports nothing heavy; import the submodules you need.
"""

from __future__ import annotations

from typing import Any

from followkit.core.registry import resolve
from followkit.train.methods import METHODS

RUNNERS: dict[str, str] = {name: row.runner for name, row in METHODS.items()}
"""Method name -> its runner, from followkit.train.methods.METHODS."""


def run(settings: Any, resume: bool = False) -> dict[str, Any]:
    """Train with the runner registered for settings.method; returns its summary."""
    return resolve(RUNNERS[settings.method])(settings, resume=resume)
