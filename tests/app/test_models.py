"""followkit.models: hub model ids resolved through a local Hugging Face cache, with no network."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from followkit.core.errors import InputError
from followkit.models import resolve_model_path

pytestmark = pytest.mark.slow  # builds a tiny model from the embedded model's tokenizer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def hub_cache(model_dir: Path, cache: Path, repo: str = "tiny-org/tiny-llama") -> Path:
    """Lay model_dir out as huggingface_hub caches a download: refs/main, snapshots/COMMIT -> blobs."""
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(COMMIT)
    snap = root / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (root / "blobs").mkdir()
    for f in sorted(model_dir.iterdir()):
        data = f.read_bytes()
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snap), snap / f.name)
    return snap


@pytest.fixture
def offline_cache(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hub"
    hub_cache(tiny, cache)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_hub_id_resolves_to_the_cached_snapshot(offline_cache: Path) -> None:
    snap = offline_cache / "models--tiny-org--tiny-llama" / "snapshots" / COMMIT
    for spec in ("hf:tiny-org/tiny-llama", "tiny-org/tiny-llama@main", f"hf:tiny-org/tiny-llama@{COMMIT}"):
        assert resolve_model_path(spec) == snap


def test_hub_id_loads_and_generates(offline_cache: Path) -> None:
    from followkit.backends import SamplingParams, load_backend

    be = load_backend("hf:tiny-org/tiny-llama", cache=False, device="cpu")
    (texts,) = be.generate([[{"role": "user", "content": "Say hi."}]], SamplingParams(max_tokens=4))
    assert len(texts) == 1 and isinstance(texts[0], str)
    assert be.model_id == "tiny-org/tiny-llama"  # the spec after "hf:"


def test_uncached_hub_id_fails_in_one_line(offline_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"model 'nobody/missing' .*HF_HUB_OFFLINE"):
        resolve_model_path("hf:nobody/missing")
    with pytest.raises(InputError, match="tiny-org/tiny-llama@v9"):
        resolve_model_path("hf:tiny-org/tiny-llama@v9")  # a revision the cache does not hold
    data = tmp_path / "d.jsonl"
    data.write_text(
        '{"key": 1, "prompt": "Hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}\n'
    )
    cmd = [sys.executable, "-m", "followkit.cli", "eval", "-b", f"ifeval:{data}", "-m", "hf:nobody/missing"]
    done = subprocess.run(cmd + ["--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "nobody/missing" in line and "HF_HUB_OFFLINE" in line


def test_a_local_folder_wins(
    offline_cache: Path, tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "tiny-org" / "tiny-llama"
    shutil.copytree(tiny, local)
    monkeypatch.chdir(tmp_path)
    assert resolve_model_path("hf:tiny-org/tiny-llama") == Path("tiny-org/tiny-llama")
    assert resolve_model_path(f"hf:{tiny}") == tiny
