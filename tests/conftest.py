"""Shared fixtures: the reference data folder and the embedded model, loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from followkit.core.paths import set_default_threads, shared_data

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
set_default_threads()  # before any test imports torch; subprocesses inherit it


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared/data, or skip when the reference data is absent."""
    d = shared_data()
    if d is None:
        pytest.skip("../shared/data is not present")
    return d


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A 2-layer random Llama saved once per test module (tests.helpers.train_support.tiny_llama_dir)."""
    from tests.helpers.train_support import tiny_llama_dir

    return tiny_llama_dir(tmp_path_factory.mktemp("models"))
