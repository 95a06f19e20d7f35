"""followkit.core.manifest: the config hash is stable and key-order free; manifest.json holds what it says."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

from followkit.core.manifest import config_hash, versions, write_manifest


def test_config_hash_is_sha256_of_sorted_json():
    config = {"seed": 7, "model": "embedded", "langs": ["en", "zh"]}
    expected = hashlib.sha256(b'{"langs": ["en", "zh"], "model": "embedded", "seed": 7}').hexdigest()
    assert config_hash(config) == expected
    assert config_hash({"model": "embedded", "langs": ["en", "zh"], "seed": 7}) == expected
    assert config_hash({**config, "seed": 8}) != expected


def test_config_hash_reads_non_json_values_as_strings():
    assert config_hash({"out": Path("runs/a")}) == config_hash({"out": "runs/a"})


def test_versions_name_python_and_followkit():
    v = versions()
    assert v["python"] == platform.python_version()
    assert "followkit" in v
    assert "not-a-package" not in v


def test_write_manifest_writes_what_it_returns(tmp_path: Path):
    config = {"k": 3}
    manifest = write_manifest(tmp_path, "compose", config, rows=12)
    on_disk = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    assert on_disk["stage"] == "compose"
    assert on_disk["config"] == config
    assert on_disk["config_sha256"] == config_hash(config)
    assert on_disk["rows"] == 12
    assert on_disk["finished_at"].endswith("Z")
