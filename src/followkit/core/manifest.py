"""Provenance: package versions and the manifest.json each stage writes beside its output."""

from __future__ import annotations

import hashlib
import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from followkit.core.io import write_json

_PACKAGES = ("followkit", "torch", "transformers", "accelerate", "peft", "trl", "datasets", "vllm", "openai")


def versions() -> dict[str, str]:
    """Versions of Python and the installed packages that matter for reproducing a run."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def config_hash(config: Any) -> str:
    """A stable SHA-256 of a JSON-able config (sorted keys)."""
    blob = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def write_manifest(out_dir: str | Path, stage: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Write DIR/manifest.json: stage, resolved config and its hash, versions, time, and any fields."""
    manifest = {
        "stage": stage,
        "config": config,
        "config_sha256": config_hash(config),
        "versions": versions(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **fields,
    }
    write_json(Path(out_dir) / "manifest.json", manifest)
    return manifest
