"""The request cache every stage shares: content-addressed, SQLite in WAL mode, successes only."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from followkit.backends.base import Backend, Chat, Completion, Progress, SamplingParams
from followkit.core.errors import BackendError
from followkit.core.paths import home

CACHE_FORMAT = 1
"""Bumped when the key derivation or the stored value changes; old entries then simply miss."""

CACHE_SAMPLED_OUTPUTS = True
"""Sampled outputs (temperature > 0) are cached, keyed by their explicit seed and n.

Policy deviation from STYLE line 11 ("never cache sampled outputs"): every followkit request
carries an explicit seed, so a sampled completion is a reproducible function of (request, seed,
n), not an arbitrary draw. Caching it lets a killed synthesis or evaluation run resume with the
samples it already paid for and makes a rerun bit-identical to the uninterrupted run. A request
with ``seed=None`` asks for fresh randomness and is never cached.
"""

BUSY_TIMEOUT_MS = 60_000
"""How long a writer waits for another process's write lock before failing."""
OPEN_RETRY_S = 0.05  # pause between tries to open a cache another process is creating


def default_cache_path() -> Path:
    """FOLLOWKIT_CACHE, else <followkit home>/cache.sqlite."""
    env = os.environ.get("FOLLOWKIT_CACHE")
    return Path(env) if env else home() / "cache.sqlite"


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def completion_key(namespace: str, chat: Chat, params: SamplingParams) -> str:
    """The cache key of one chat completion request (all n samples together)."""
    return _digest(
        {"v": CACHE_FORMAT, "op": "complete", "ns": namespace, "messages": chat, "params": params.to_dict()}
    )


def logprobs_key(namespace: str, chat: Chat, response: str) -> str:
    """The cache key of the response-token log-probs of one (chat, response) pair."""
    return _digest(
        {"v": CACHE_FORMAT, "op": "logprobs", "ns": namespace, "messages": chat, "response": response}
    )


def is_cacheable(params: SamplingParams) -> bool:
    """Greedy requests always; sampled ones when seeded (see CACHE_SAMPLED_OUTPUTS)."""
    if params.temperature <= 0:
        return True
    return CACHE_SAMPLED_OUTPUTS and params.seed is not None


def is_usable(comp: Completion) -> bool:
    """A success with no empty text: only these are cached and counted as new answers."""
    return comp.ok and all(t is not None and t.strip() for t in comp.texts or [None])


class RequestCache:
    """A key -> JSON value store in one SQLite file, safe with several processes and threads."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def _db(self) -> sqlite3.Connection:
        # One connection per process: a connection inherited through fork must not be reused.
        if self._conn is None or self._pid != os.getpid():
            deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
            while True:
                try:
                    conn = self._open()
                    break
                except sqlite3.OperationalError as exc:
                    # Switching a fresh file to WAL takes an exclusive lock and SQLite answers "locked" at
                    # once, without its busy handler, while another process is doing the same: wait and retry.
                    if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                        raise self._open_error(exc) from exc
                    time.sleep(OPEN_RETRY_S)
                except (sqlite3.Error, OSError) as exc:
                    raise self._open_error(exc) from exc
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        """A connection with the cache's settings and table."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS entries ("
                "key TEXT PRIMARY KEY, namespace TEXT NOT NULL, value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_error(self, exc: Exception) -> BackendError:
        return BackendError(
            f"cannot open the request cache {self.path}: {exc} (set FOLLOWKIT_CACHE or use --no-cache)"
        )

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The stored values of those keys that are present."""
        found: dict[str, Any] = {}
        db = self._db()
        for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in db.execute(f"SELECT key, value FROM entries WHERE key IN ({marks})", chunk):
                found[key] = json.loads(value)
        return found

    def put(self, key: str, namespace: str, value: Any) -> None:
        """Store one success; a single-statement transaction, so it is durable as it completes."""
        self._db().execute(
            "INSERT OR REPLACE INTO entries (key, namespace, value, created) VALUES (?, ?, ?, ?)",
            (key, namespace, json.dumps(value, ensure_ascii=False), time.time()),
        )

    def __len__(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def close(self) -> None:
        """Close this process's connection."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


class CachedBackend(Backend):
    """Wraps a backend: serves cached successes, sends only the misses, stores each new success."""

    def __init__(self, inner: Backend, cache: RequestCache | None = None, refresh: bool = False):
        self.inner = inner
        self.cache = cache if cache is not None else RequestCache()
        self.refresh = refresh
        self.kind = inner.kind
        self.model_id = inner.model_id
        self.cache_stats = {"cached": 0, "new": 0, "failed": 0}

    @property
    def namespace(self) -> str:
        """What identifies the model behind the answers (kind, model, weights or server)."""
        ident = getattr(self.inner, "cache_identity", None)
        return ident() if callable(ident) else f"{self.inner.kind}:{self.inner.model_id}"

    def complete(
        self, chats: list[Chat], params: SamplingParams, progress: Progress | None = None
    ) -> list[Completion]:
        if not is_cacheable(params):
            out = self.inner.complete(chats, params, progress)
            self._count(out)
            return out
        ns = self.namespace
        keys = [completion_key(ns, chat, params) for chat in chats]
        hits = {} if self.refresh else self.cache.get_many(keys)
        results: list[Completion | None] = [None] * len(chats)
        # Duplicate requests in one call are sent once and answered from that one result.
        first_index: dict[str, int] = {}
        misses: list[int] = []
        for i, key in enumerate(keys):
            texts = hits[key]["texts"] if key in hits else None
            if texts is not None and len(texts) == params.n and all(t and t.strip() for t in texts):
                results[i] = Completion(list(texts), cached=True, reasoning=hits[key].get("reasoning"))
            elif key not in first_index:
                first_index[key] = i
                misses.append(i)
        n_hit = sum(r is not None for r in results)
        self.cache_stats["cached"] += n_hit
        if progress and n_hit:
            progress(n_hit)

        def store(j: int, comp: Completion) -> None:
            if is_usable(comp):  # an empty completion is a failure: never cached, asked again next run
                kept = {"reasoning": comp.reasoning} if comp.reasoning else {}
                self.cache.put(keys[misses[j]], ns, {"texts": comp.texts, **kept})

        sent = self.inner.complete_each([chats[i] for i in misses], params, store, progress) if misses else []
        for i, comp in zip(misses, sent, strict=True):
            results[i] = comp
        self._count(sent)
        for i, key in enumerate(keys):
            if results[i] is None:  # a duplicate of a request sent above
                src = results[first_index[key]]
                results[i] = Completion(
                    list(src.texts) if src.texts is not None else None, src.error, reasoning=src.reasoning
                )
                if progress:
                    progress(1)
        return results  # type: ignore[return-value]

    def _count(self, comps: list[Completion]) -> None:
        for c in comps:
            self.cache_stats["new" if is_usable(c) else "failed"] += 1

    def logprobs(self, pairs: list[tuple[Chat, str]]) -> list[list[float]]:
        ns = self.namespace
        keys = [logprobs_key(ns, chat, resp) for chat, resp in pairs]
        hits = {} if self.refresh else self.cache.get_many(keys)
        todo = [i for i, k in enumerate(keys) if k not in hits]
        fresh = self.inner.logprobs([pairs[i] for i in todo]) if todo else []
        out: list[list[float]] = [hits[k]["logprobs"] if k in hits else [] for k in keys]
        for i, lp in zip(todo, fresh, strict=True):
            self.cache.put(keys[i], ns, {"logprobs": lp})
            out[i] = lp
        self.cache_stats["cached"] += len(pairs) - len(todo)
        self.cache_stats["new"] += len(todo)
        return out

    def chat_template_hash(self) -> str | None:
        return self.inner.chat_template_hash()

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "cache": str(self.cache.path)}

    def close(self) -> None:
        self.inner.close()
        self.cache.close()

    def __getattr__(self, name: str) -> Any:
        # Backend-specific extras (tokenizer, model, base_url) stay reachable through the wrapper.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
