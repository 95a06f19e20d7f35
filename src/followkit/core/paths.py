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


DEFAULT_THREADS_FRACTION = 1.0
"""Share of the CPUs torch's OpenMP pool gets unless OMP_NUM_THREADS says otherwise: all of them,
with OMP_WAIT_POLICY=PASSIVE (unless the user set it) so that idle workers sleep instead of spinning.

Measured here (2 cores, SmolLM2-135M in bfloat16, 16 prompts, 48 new tokens, tokens/s):

    machine        1 thread   2 threads, spinning (OpenMP default)   2 threads, PASSIVE
    quiet             74.5          125.3                                  97.1
    busy (load 4)     17.8           29.0                                  61.0

Spinning workers are fastest on an idle machine and collapse on a shared one (an earlier
measurement here: 11 s with one thread, 219 s with two); passive ones keep most of the gain and
never fall below one thread. `followkit run` gives each of its side-by-side stages its share of
the CPUs instead (pipeline.stage_threads). Set OMP_NUM_THREADS / OMP_WAIT_POLICY to choose yourself.
"""


def set_default_threads() -> int:
    """Set OMP_NUM_THREADS (before torch is imported) unless the user set it; returns the count."""
    if "OMP_NUM_THREADS" not in os.environ:
        n = max(1, int((os.cpu_count() or 1) * DEFAULT_THREADS_FRACTION))
        os.environ["OMP_NUM_THREADS"] = str(n)
        os.environ["FOLLOWKIT_THREADS_DEFAULTED"] = "1"  # ours, not the user's: `run` may re-share it
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return int(os.environ["OMP_NUM_THREADS"])


def quiet_library_bars() -> None:
    """Hide the per-file bars transformers draws while loading and saving weights, unless the user set it.

    They print a line per model load into every stage log ("Loading weights: 100% 272/272"); followkit's
    own bars and the Trainer's step bar report the long work instead.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
