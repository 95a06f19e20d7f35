"""Any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs) over async HTTP."""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from followkit.backends.base import Backend, Chat, Completion, Progress, SamplingParams
from followkit.core.errors import BackendError
from followkit.core.redact import redact

DEFAULT_BASE_URL = "https://api.openai.com/v1"
API_KEY_VARS = ("FOLLOWKIT_API_KEY", "OPENAI_API_KEY")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})

GREEDY_N_REPLICATES = True
"""With temperature 0 and n > 1, one request is sent and its text repeated n times.

Greedy decoding has a single answer, so n identical requests would only cost money; a server
whose greedy output is not deterministic (batch-variant kernels) is sampled once, and that
sample stands for all n.
"""

T = TypeVar("T")


class _ItemFailed(Exception):
    """One item gave up (non-retryable status, or retries exhausted); the others go on."""


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    # Inside a running loop (Jupyter, an async caller) asyncio.run would refuse: use a thread.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _normalise_base_url(url: str) -> str:
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendError(f"invalid base URL '{url}': expected http(s)://HOST[:PORT][/v1]")
    if parts.path in ("", "/"):
        url += "/v1"  # a bare host means the conventional OpenAI path
    return url


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message", err) if isinstance(err, dict) else err
        return redact(str(msg))[:300]
    except ValueError:
        return redact(resp.text)[:300]


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return text if cut < 0 else text[:cut]


class OpenAIBackend(Backend):
    """Chat completions from an OpenAI-compatible server, with bounded concurrency and retries.

    The API key comes only from FOLLOWKIT_API_KEY or OPENAI_API_KEY and is never logged. The
    base URL comes from `base_url`, else OPENAI_BASE_URL, else the OpenAI API.
    """

    kind = "openai"

    def __init__(
        self,
        spec: str,
        base_url: str | None = None,
        max_concurrency: int = 8,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 120.0,
    ):
        if not spec:
            raise BackendError("openai backend needs a model name: openai:NAME")
        if max_concurrency < 1:
            raise BackendError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.model_id = spec
        self.base_url = _normalise_base_url(base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
        self._api_key = next((os.environ[v] for v in API_KEY_VARS if os.environ.get(v)), None)
        if self._api_key is None and self.base_url == DEFAULT_BASE_URL:
            raise BackendError(
                "the OpenAI API needs a key: set OPENAI_API_KEY, or pass --base-url for a local server"
            )
        self.max_concurrency = max_concurrency
        self.timeout = httpx.Timeout(timeout, connect=min(connect_timeout, timeout))
        self.max_retries = max_retries
        self.backoff_base, self.backoff_max, self.retry_after_max = backoff_base, backoff_max, retry_after_max
        self._n_supported: bool | None = None  # learned from the first n > 1 answer
        self._checked = False
        self._rng = random.Random()  # jitter only; outputs never depend on it
        self.requests_sent = 0  # HTTP attempts, for diagnostics and tests

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model_id!r}, base_url={self.base_url!r})"

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if self._api_key:
            h["Authorization"] = f"Bearer {self._api_key}"
        return h

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency
        )
        return httpx.AsyncClient(timeout=self.timeout, limits=limits, headers=self._headers())

    def _auth_error(self) -> BackendError:
        return BackendError(f"invalid API key for {self.base_url}: set OPENAI_API_KEY (or FOLLOWKIT_API_KEY)")

    async def _check_server(self, client: httpx.AsyncClient) -> None:
        """Fail fast, with one line, when the server is down or refuses the key."""
        if self._checked:
            return
        url = f"{self.base_url}/models"
        for attempt in range(3):
            try:
                resp = await client.get(url)
            except httpx.ConnectError as exc:
                raise BackendError(f"cannot reach {self.base_url}: is the server running? ({exc})") from exc
            except httpx.TransportError:
                if attempt == 2:
                    raise BackendError(f"cannot reach {self.base_url}: no answer to GET /models") from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            if resp.status_code in (401, 403):
                raise self._auth_error()
            if resp.status_code < 500:
                break  # 404 is fine: some servers have no /models
        self._checked = True

    def _backoff(self, attempt: int) -> float:
        cap = min(self.backoff_max, self.backoff_base * 2**attempt)
        return cap / 2 + self._rng.uniform(0, cap / 2)  # "equal jitter": spread, but never near zero

    async def _post(self, client: httpx.AsyncClient, sem: asyncio.Semaphore, path: str, body: dict) -> dict:
        url = f"{self.base_url}{path}"
        last = ""
        for attempt in range(self.max_retries + 1):
            delay = None
            async with sem:
                self.requests_sent += 1
                try:
                    resp = await client.post(url, json=body)
                except httpx.TransportError as exc:  # refused, reset, dropped, timed out
                    last = f"{type(exc).__name__}: {exc}".rstrip(": ")
                else:
                    code = resp.status_code
                    if code == 200:
                        try:
                            return resp.json()
                        except ValueError:
                            last = "the server sent a body that is not JSON"
                    elif code in (401, 403):
                        raise self._auth_error()
                    elif code == 404:
                        raise BackendError(
                            f"{url} answered 404 ({_error_message(resp)}): check --base-url "
                            f"(usually ending in /v1) and the model name '{self.model_id}'"
                        )
                    elif code in RETRY_STATUS or code >= 500:
                        last = f"HTTP {code}: {_error_message(resp)}"
                        if code == 429:
                            ra = _retry_after_seconds(resp.headers.get("retry-after"))
                            if ra is not None:
                                ra = min(ra, self.retry_after_max)
                                delay = ra + self._rng.uniform(0, min(1.0, 0.1 * ra + 0.05))
                    else:
                        raise _ItemFailed(f"HTTP {code}: {_error_message(resp)}")
            if attempt == self.max_retries:
                break
            await asyncio.sleep(delay if delay is not None else self._backoff(attempt))
        raise _ItemFailed(f"gave up after {self.max_retries + 1} attempts: {last}")

    def _body(self, chat: Chat, params: SamplingParams, n: int, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": chat,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if n > 1:
            body["n"] = n
        if seed is not None:
            body["seed"] = seed
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    async def _one(
        self, client: httpx.AsyncClient, sem: asyncio.Semaphore, chat: Chat, params: SamplingParams
    ) -> Completion:
        """All n texts of one chat: n asked at once, the shortfall filled by calls with new seeds.

        The answer is the message's `content`; a reasoning parser's trace (`reasoning_content`, or
        `reasoning` in newer vLLM) is kept apart in Completion.reasoning, never joined to the answer.
        """
        greedy = params.temperature <= 0
        need = 1 if greedy and GREEDY_N_REPLICATES else params.n
        texts: list[str] = []
        traces: list[str | None] = []
        call = 0
        while len(texts) < need:
            want = need - len(texts)
            ask = want if self._n_supported is not False else 1
            seed = None if params.seed is None else params.seed + call  # distinct seed per emulated call
            data = await self._post(client, sem, "/chat/completions", self._body(chat, params, ask, seed))
            choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
            if not choices:
                raise _ItemFailed(f"the server answered without choices: {str(data)[:200]}")
            if ask > 1:
                self._n_supported = len(choices) >= ask
            for ch in choices[:want]:
                message = ch.get("message") or {}
                texts.append(_cut_at_stop(message.get("content") or "", params.stop))
                trace = message.get("reasoning_content") or message.get("reasoning")
                traces.append(trace if isinstance(trace, str) else None)
            call += 1
        if len(texts) < params.n:
            texts, traces = texts * params.n, traces * params.n
        return Completion(texts, reasoning=traces if any(t is not None for t in traces) else None)

    async def _complete_all(
        self,
        chats: list[Chat],
        params: SamplingParams,
        on_item: Callable[[int, Completion], None] | None,
        progress: Progress | None,
    ) -> list[Completion]:
        sem = asyncio.Semaphore(self.max_concurrency)
        out: list[Completion | None] = [None] * len(chats)
        async with self._client() as client:
            await self._check_server(client)

            async def run(i: int, chat: Chat) -> None:
                try:
                    comp = await self._one(client, sem, chat, params)
                except _ItemFailed as exc:
                    comp = Completion(None, error=str(exc))
                out[i] = comp
                if on_item:
                    on_item(i, comp)
                if progress:
                    progress(1)

            tasks = [asyncio.create_task(run(i, c)) for i, c in enumerate(chats)]
            try:
                await asyncio.gather(*tasks)
            finally:
                for t in tasks:
                    t.cancel()
        return out  # type: ignore[return-value]

    def complete(
        self, chats: list[Chat], params: SamplingParams, progress: Progress | None = None
    ) -> list[Completion]:
        return _run_sync(self._complete_all(chats, params, None, progress))

    def complete_each(
        self,
        chats: list[Chat],
        params: SamplingParams,
        on_item: Callable[[int, Completion], None],
        progress: Progress | None = None,
    ) -> list[Completion]:
        return _run_sync(self._complete_all(chats, params, on_item, progress))

    def logprobs(self, pairs: list[tuple[Chat, str]]) -> list[list[float]]:
        raise BackendError(
            f"openai:{self.model_id}: scoring a given response needs prompt log-probs with echo, which "
            "OpenAI-compatible servers do not offer uniformly; use embedded, hf:PATH or vllm:PATH for log-probs"
        )

    def cache_identity(self) -> str:
        """Cache namespace: the same model name on another server is another model."""
        return redact(f"openai:{self.base_url}:{self.model_id}")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": redact(self.base_url)}
