"""The shared request cache: keys, hits and misses, failures, refresh, log-probs, several processes."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from followkit.backends import load_backend
from followkit.backends.base import Backend, Chat, Completion, SamplingParams
from followkit.backends.cache import (
    CACHE_SAMPLED_OUTPUTS,
    CachedBackend,
    RequestCache,
    completion_key,
    default_cache_path,
    is_cacheable,
)
from followkit.backends.scripted import ScriptedBackend


def chat(text: str) -> Chat:
    return [{"role": "user", "content": text}]


class Recorder(ScriptedBackend):
    """A scripted model that remembers which prompts reached it and can fail chosen ones."""

    def __init__(self, fail: set[str] = frozenset()):
        super().__init__(self._answer)
        self.fail = set(fail)
        self.seen: list[str] = []

    def _answer(self, c: Chat, i: int) -> str:
        text = c[-1]["content"]
        if i == 0:
            self.seen.append(text)
        if text in self.fail:
            raise RuntimeError(f"boom on {text}")
        return f"{text.upper()}#{i}"

    def logprobs(self, pairs: list[tuple[Chat, str]]) -> list[list[float]]:
        self.seen.extend(f"lp:{r}" for _, r in pairs)
        return [[-float(len(r))] for _, r in pairs]


def test_key_changes_with_every_part_of_the_request():
    base = completion_key("ns", chat("a"), SamplingParams())
    assert base == completion_key("ns", chat("a"), SamplingParams())
    variants = [
        completion_key("other", chat("a"), SamplingParams()),
        completion_key("ns", chat("b"), SamplingParams()),
        completion_key("ns", [{"role": "system", "content": "s"}, *chat("a")], SamplingParams()),
        completion_key("ns", chat("a"), SamplingParams(seed=1)),
        completion_key("ns", chat("a"), SamplingParams(n=2)),
        completion_key("ns", chat("a"), SamplingParams(temperature=0.5)),
        completion_key("ns", chat("a"), SamplingParams(top_p=0.9)),
        completion_key("ns", chat("a"), SamplingParams(max_tokens=7)),
        completion_key("ns", chat("a"), SamplingParams(stop=("x",))),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_sampling_policy_is_named_and_seedless_samples_are_not_cached():
    assert CACHE_SAMPLED_OUTPUTS is True
    assert is_cacheable(SamplingParams(temperature=0.0, seed=None))
    assert is_cacheable(SamplingParams(temperature=0.8, seed=3))
    assert not is_cacheable(SamplingParams(temperature=0.8, seed=None))


def test_hits_are_served_and_only_misses_are_sent(tmp_path: Path):
    inner = Recorder()
    be = CachedBackend(inner, RequestCache(tmp_path / "c.sqlite"))
    first = be.generate([chat("a"), chat("b")], SamplingParams(n=2, temperature=0.7, seed=1))
    assert first == [["A#0", "A#1"], ["B#0", "B#1"]]
    assert be.cache_stats == {"cached": 0, "new": 2, "failed": 0}

    inner2 = Recorder()
    be2 = CachedBackend(inner2, RequestCache(tmp_path / "c.sqlite"))
    got = be2.complete([chat("b"), chat("c"), chat("a")], SamplingParams(n=2, temperature=0.7, seed=1))
    assert [c.texts for c in got] == [["B#0", "B#1"], ["C#0", "C#1"], ["A#0", "A#1"]]
    assert [c.cached for c in got] == [True, False, True]
    assert inner2.seen == ["c"]
    assert be2.cache_stats == {"cached": 2, "new": 1, "failed": 0}
    # Another seed is another request.
    be2.generate([chat("a")], SamplingParams(n=2, temperature=0.7, seed=2))
    assert inner2.seen == ["c", "a"]


def test_failures_are_not_cached_and_a_rerun_retries_exactly_them(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    be = CachedBackend(Recorder(fail={"b"}), RequestCache(path))
    out = be.complete([chat("a"), chat("b"), chat("c")], SamplingParams())
    assert [c.ok for c in out] == [True, False, True]
    assert "boom on b" in out[1].error
    assert be.cache_stats == {"cached": 0, "new": 2, "failed": 1}
    assert len(RequestCache(path)) == 2

    inner = Recorder()
    be2 = CachedBackend(inner, RequestCache(path))
    assert be2.generate([chat("a"), chat("b"), chat("c")], SamplingParams()) == [["A#0"], ["B#0"], ["C#0"]]
    assert inner.seen == ["b"]


def test_refresh_ignores_entries_and_overwrites_them(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    CachedBackend(Recorder(), RequestCache(path)).generate([chat("a")], SamplingParams())
    inner = Recorder()
    be = CachedBackend(inner, RequestCache(path), refresh=True)
    be.generate([chat("a")], SamplingParams())
    assert inner.seen == ["a"] and be.cache_stats["cached"] == 0


def test_duplicates_in_one_call_are_sent_once(tmp_path: Path):
    inner = Recorder()
    be = CachedBackend(inner, RequestCache(tmp_path / "c.sqlite"))
    done: list[int] = []
    out = be.generate([chat("a"), chat("a"), chat("b")], SamplingParams(), progress=done.append)
    assert out == [["A#0"], ["A#0"], ["B#0"]]
    assert inner.seen == ["a", "b"]
    assert sum(done) == 3


def test_logprobs_are_cached(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    be = CachedBackend(Recorder(), RequestCache(path))
    assert be.logprobs([(chat("q"), "xy"), (chat("q"), "z")]) == [[-2.0], [-1.0]]
    inner = Recorder()
    be2 = CachedBackend(inner, RequestCache(path))
    assert be2.logprobs([(chat("q"), "z"), (chat("q"), "abc")]) == [[-1.0], [-3.0]]
    assert inner.seen == ["lp:abc"]


class Streaming(Backend):
    """Reports each item as it finishes, then dies before returning (a killed run)."""

    kind = "stream"
    model_id = "s"

    def complete(self, chats, params, progress=None):  # pragma: no cover - complete_each is used
        raise AssertionError

    def complete_each(self, chats, params, on_item, progress=None):
        for i, c in enumerate(chats[:2]):
            on_item(i, Completion([c[-1]["content"] + "!"]))
        raise KeyboardInterrupt


def test_each_success_is_written_as_it_completes(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    with pytest.raises(KeyboardInterrupt):
        CachedBackend(Streaming(), RequestCache(path)).complete([chat(x) for x in "abcd"], SamplingParams())
    inner = Recorder()
    inner.kind, inner.model_id = "stream", "s"  # the same model as the killed run
    be = CachedBackend(inner, RequestCache(path))
    out = be.generate([chat(x) for x in "abcd"], SamplingParams())
    assert out == [["a!"], ["b!"], ["C#0"], ["D#0"]]
    assert inner.seen == ["c", "d"]


def _writer(path: str, worker: int, keys: int) -> None:
    cache = RequestCache(path)
    for k in range(keys):
        # Overlapping keys: every worker writes the even ones too, with the same value.
        key = f"shared-{k}" if k % 2 == 0 else f"w{worker}-{k}"
        cache.put(key, "ns", {"texts": [key]})
        cache.get_many([key])


def test_several_processes_write_concurrently(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 200)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    cache = RequestCache(path)
    assert len(cache) == 100 + 4 * 100
    expected = [f"shared-{k}" for k in range(0, 200, 2)] + [
        f"w{w}-{k}" for w in range(4) for k in range(1, 200, 2)
    ]
    got = cache.get_many(expected)
    assert all(got[k] == {"texts": [k]} for k in expected)
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def _open_at_once(path: str, barrier: Any, errors: Any) -> None:
    barrier.wait()
    try:
        RequestCache(path).put("k", "ns", {"texts": ["x"]})
    except Exception as exc:  # reported to the parent, which asserts there were none
        errors.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_fresh_cache_at_once_all_succeed(tmp_path: Path):
    # `followkit run` starts stages side by side on one cache: on a new machine they create it together.
    ctx = mp.get_context("fork")
    errors = ctx.Queue()
    for trial in range(6):
        path = str(tmp_path / f"fresh{trial}.sqlite")
        barrier = ctx.Barrier(6)
        procs = [ctx.Process(target=_open_at_once, args=(path, barrier, errors)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 6
        assert len(RequestCache(path)) == 1
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []


def test_location_follows_env_and_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FOLLOWKIT_CACHE", str(tmp_path / "env.sqlite"))
    assert default_cache_path() == tmp_path / "env.sqlite"
    monkeypatch.delenv("FOLLOWKIT_CACHE")
    monkeypatch.setenv("FOLLOWKIT_HOME", str(tmp_path / "home"))
    assert default_cache_path() == tmp_path / "home" / "cache.sqlite"


def test_unwritable_cache_location_is_a_one_line_backend_error(tmp_path: Path):
    from followkit.core.errors import BackendError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BackendError, match="cannot open the request cache"):
        len(RequestCache(blocker / "sub" / "c.sqlite"))


def test_load_backend_wraps_in_cache_unless_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    be = load_backend("openai:m", base_url="http://127.0.0.1:9", cache_path=tmp_path / "x.sqlite")
    assert isinstance(be, CachedBackend) and be.cache.path == tmp_path / "x.sqlite"
    assert be.base_url == "http://127.0.0.1:9/v1"  # backend extras stay reachable through the wrapper
    raw = load_backend("openai:m", base_url="http://127.0.0.1:9", cache=False)
    assert not isinstance(raw, CachedBackend)
    refreshing = load_backend("openai:m", base_url="http://127.0.0.1:9", refresh_cache=True)
    assert refreshing.refresh is True
