"""The backend protocol every model engine implements (DESIGN section 4)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from followkit.core.errors import BackendError
from followkit.core.registry import Registry

Chat = list[dict[str, str]]  # [{"role": "system"|"user"|"assistant", "content": ...}]
Progress = Callable[[int], None]  # called with the number of items just finished


@dataclass(frozen=True)
class SamplingParams:
    """Decoding parameters; temperature 0 means greedy."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = 0
    stop: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (cache keys, manifests)."""
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass
class Completion:
    """The outcome of one chat: n texts, or the error that stopped it (never both)."""

    texts: list[str] | None
    error: str | None = None
    cached: bool = False
    reasoning: list[str | None] | None = None  # per text, a trace the server returned apart from it

    @property
    def ok(self) -> bool:
        return self.texts is not None

    def reasoning_of(self, i: int) -> str | None:
        """The server-separated reasoning of text i (`reasoning_content`), or None."""
        return self.reasoning[i] if self.reasoning and i < len(self.reasoning) else None


class Backend(ABC):
    """A model engine: batched chat completion and response-token log-probs."""

    kind: str = "base"  # registry name: "hf", "embedded", "openai", "vllm", ...
    model_id: str = ""

    @abstractmethod
    def complete(
        self, chats: list[Chat], params: SamplingParams, progress: Progress | None = None
    ) -> list[Completion]:
        """One Completion per chat, in order; a failed item carries its error, others go on."""

    def generate(
        self, chats: list[Chat], params: SamplingParams, progress: Progress | None = None
    ) -> list[list[str]]:
        """n texts per chat; raises BackendError if any item failed."""
        out = []
        for c in self.complete(chats, params, progress):
            if not c.ok:
                raise BackendError(f"{self.kind}:{self.model_id}: {c.error}")
            out.append(c.texts)
        return out

    def complete_each(
        self,
        chats: list[Chat],
        params: SamplingParams,
        on_item: Callable[[int, Completion], None],
        progress: Progress | None = None,
    ) -> list[Completion]:
        """Like complete(), calling on_item(index, completion) as items finish (caches write as they go)."""
        out = self.complete(chats, params, progress)
        for i, c in enumerate(out):
            on_item(i, c)
        return out

    def logprobs(self, pairs: list[tuple[Chat, str]]) -> list[list[float]]:
        """Per-token log-probs of each response given its chat (chat template applied)."""
        raise BackendError(f"backend {self.kind} does not provide log-probs")

    def chat_template_hash(self) -> str | None:
        """SHA-256 of the chat template in use, where the backend knows it."""
        return None

    def describe(self) -> dict[str, Any]:
        """Provenance for manifests and results: kind, model id, template hash."""
        return {
            "backend": self.kind,
            "model": self.model_id,
            "chat_template_sha256": self.chat_template_hash(),
        }

    def close(self) -> None:
        """Release resources (servers, sessions, GPU memory)."""


_BUILTIN = {
    "embedded": "followkit.backends.hf:EmbeddedBackend",
    "hf": "followkit.backends.hf:HFBackend",
    "openai": "followkit.backends.openai:OpenAIBackend",
    "vllm": "followkit.backends.vllm:VLLMBackend",
}

BACKENDS: Registry[type[Backend]] = Registry(
    "backend",
    _BUILTIN,
    base=Backend,
    subclass=True,
    group="followkit.backends",
    env="FOLLOWKIT_BACKENDS",
    error=BackendError,
)
"""Backend kind -> its class, lazily imported; built-ins first, then plugins: entry points of group
followkit.backends and the comma-separated `name=module:attr` items of FOLLOWKIT_BACKENDS (STYLE 8)."""


def parse_spec(spec: str) -> tuple[str, str]:
    """Split 'kind:ARG' (or 'embedded') into (kind, arg); BackendError for an unknown kind."""
    kind, _, arg = spec.partition(":")
    if kind not in BACKENDS:
        close = BACKENDS.closest(kind)
        hint = f" (did you mean {close}?)" if close else ""
        plugins = [f"{k}:ARG" for k in BACKENDS if k not in _BUILTIN]
        more = f" (or a plugin: {', '.join(plugins)})" if plugins else ""
        raise BackendError(
            f"unknown model spec '{spec}'{hint}: use embedded, hf:PATH, openai:NAME (with --base-url) "
            f"or vllm:PATH{more}"
        )
    if kind != "embedded" and not arg:
        raise BackendError(f"model spec '{spec}' needs a name or path after '{kind}:'")
    return kind, arg


def backend_class(kind: str) -> type[Backend]:
    """Import the class registered for a backend kind (ImportError if its module cannot be imported)."""
    return BACKENDS.load(kind)
