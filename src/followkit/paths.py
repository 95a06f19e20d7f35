"""Where followkit keeps its caches: FOLLOWKIT_HOME, else ~/.cache/followkit."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The followkit cache root (created on demand)."""
    root = Path(os.environ.get("FOLLOWKIT_HOME") or Path.home() / ".cache" / "followkit")
    root.mkdir(parents=True, exist_ok=True)
    return root


def shared_data() -> Path | None:
    """The reference data folder `../shared/data` beside the checkout, if present (tests only)."""
    env = os.environ.get("FOLLOWKIT_SHARED_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None


DEFAULT_THREADS_FRACTION = 0.5
"""Share of the CPUs torch's OpenMP pool gets unless OMP_NUM_THREADS says otherwise.

Measured here (2 cores, other work running): greedy decoding of SmolLM2 at batch 16 took 11 s
with one thread and 219 s with two, because OpenMP workers spin-wait on cores that are busy.
Half the CPUs keeps that cliff away on shared machines at a small cost on idle ones; set
OMP_NUM_THREADS to choose yourself.
"""


def set_default_threads() -> int:
    """Set OMP_NUM_THREADS (before torch is imported) unless the user set it; returns the count."""
    if "OMP_NUM_THREADS" not in os.environ:
        n = max(1, int((os.cpu_count() or 1) * DEFAULT_THREADS_FRACTION))
        os.environ["OMP_NUM_THREADS"] = str(n)
        os.environ["FOLLOWKIT_THREADS_DEFAULTED"] = "1"  # ours, not the user's: `run` may re-share it
    return int(os.environ["OMP_NUM_THREADS"])
