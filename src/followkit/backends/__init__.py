"""Model backends behind one protocol: embedded SmolLM2, hf, openai-compatible servers, vllm."""

from __future__ import annotations

import inspect
from typing import Any

from followkit.backends.base import (
    BACKENDS,
    Backend,
    Chat,
    Completion,
    SamplingParams,
    backend_class,
    parse_spec,
)
from followkit.core.errors import BackendError

__all__ = [
    "BACKENDS",
    "Backend",
    "Chat",
    "Completion",
    "SamplingParams",
    "load_backend",
    "parse_spec",
]


def engine_options(spec: str, **options: Any) -> dict[str, Any]:
    """The given options that the spec's engine takes (None values dropped): batch_size, dtype, ..."""
    from followkit.backends.base import backend_class

    given = {k: v for k, v in options.items() if v is not None}
    if not given:
        return {}
    try:
        params = inspect.signature(backend_class(parse_spec(spec)[0]).__init__).parameters
    except ImportError:
        return {}  # load_backend reports the missing engine with its own message
    return {k: v for k, v in given.items() if k in params}


def load_backend(
    spec: str,
    *,
    base_url: str | None = None,
    cache: bool = True,
    refresh_cache: bool = False,
    **options: Any,
) -> Backend:
    """Build the backend for 'embedded', 'hf:PATH', 'openai:NAME' or 'vllm:PATH', cached unless cache=False.

    `cache_path` (else FOLLOWKIT_CACHE, else <home>/cache.sqlite) picks the cache file; the other
    options go to the backend's constructor (e.g. batch_size, device, max_concurrency, timeout).
    """
    kind, arg = parse_spec(spec)
    cache_path = options.pop("cache_path", None)
    if base_url is not None:
        if kind != "openai":
            raise BackendError(f"--base-url applies to openai:NAME models only, not '{spec}'")
        options["base_url"] = base_url
    try:
        cls = backend_class(kind)
    except ImportError as exc:
        raise BackendError(
            f"backend '{kind}' cannot be imported ({exc}): install followkit with the [ml] extra"
        ) from exc
    accepted = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            known = sorted(k for k in accepted if k not in ("self", "spec"))
            raise BackendError(f"unknown option(s) {unknown} for backend '{kind}'; it accepts {known}")
    backend = cls(arg, **options)
    if not cache:
        return backend
    from followkit.backends.cache import CachedBackend, RequestCache

    return CachedBackend(backend, RequestCache(cache_path), refresh=refresh_cache)
