"""Helpers for eval tests with a scripted model: answers keyed by the last user message, chats recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from followkit.backends.scripted import ScriptedBackend
from followkit.evaluate.runner import EvalConfig, run_eval


def answering(answers: dict[str, str], seen: list[list[dict[str, str]]] | None = None) -> ScriptedBackend:
    """A model that answers each chat by its last user message, appending a copy of the chat to `seen`."""

    def answer(chat, i):
        if seen is not None:
            seen.append([dict(m) for m in chat])
        return answers[chat[-1]["content"]]

    return ScriptedBackend(answer)


def run_bench(benchmark: str, out: Path, backend: Any, **settings: Any) -> dict[str, Any]:
    """`followkit eval --benchmark BENCHMARK` as a library call, with the given backend."""
    cfg = EvalConfig(benchmark=benchmark, model="scripted", out=str(out), **settings)
    return run_eval(cfg, backend=backend, progress=False)
