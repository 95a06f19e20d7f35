"""Reasoning traces: the `<think>...</think>` block a reasoning model writes before its answer.

Every place that reads an answer (eval, verify, the rewards, synthesis, judges, win rates) splits
the trace off first, so the checkers and judges read the answer only (DESIGN section 13). Scoring
the trace as the answer is the most reported evaluation bug of 2025 (lm-evaluation-harness #3161:
Qwen3-1.7B on IFEval, 0.284 with the trace, 0.588 without).

Imports nothing from followkit, so any layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Status = Literal["none", "closed", "unclosed"]
Setting = Literal["strip", "keep"]

DEFAULT_MARKERS: tuple[str, str] = ("<think>", "</think>")
"""The trace markers of Qwen3, DeepSeek-R1 distills and most open reasoning models."""
DEFAULT_MARKERS_TEXT = ",".join(DEFAULT_MARKERS)
"""DEFAULT_MARKERS as the `--reasoning-markers` flag spells them."""

UNCLOSED_IS_NO_ANSWER = True
"""Policy: a trace that is opened and never closed (the model ran out of tokens while thinking)
leaves no answer. It is scored as the empty answer, which follows nothing, never as the trace."""

CLOSE_WITHOUT_OPEN_IS_TRACE = True
"""Policy: text before a close marker with no open marker is a trace. Qwen3's chat template
writes the open marker into the prompt, so the output starts inside the trace."""


def parse_markers(text: str | Iterable[str]) -> tuple[str, str]:
    """'OPEN,CLOSE' (or a pair) -> (open, close); ValueError unless both are non-empty and differ."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    parts = [p.strip() for p in parts]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise ValueError(f"reasoning markers must be OPEN,CLOSE (two different strings), got {text!r}")
    return parts[0], parts[1]


def split_reasoning(text: str, markers: tuple[str, str] = DEFAULT_MARKERS) -> tuple[str | None, str, Status]:
    """(reasoning or None, answer, status) of one response; status is none, closed or unclosed.

    - an open marker at the start (after whitespace) closed later: the trace is what lies between,
      the answer what follows the close marker (leading whitespace dropped);
    - a close marker with no open marker before it: the text before it is the trace
      (CLOSE_WITHOUT_OPEN_IS_TRACE);
    - an open marker at the start never closed: the whole text is the trace and the answer is ""
      (UNCLOSED_IS_NO_ANSWER);
    - otherwise no trace: the answer is the text unchanged.
    """
    open_, close = markers
    body = text.lstrip()
    if body.startswith(open_):
        inside, found, after = body[len(open_) :].partition(close)
        if not found:
            return inside.strip(), "", "unclosed"
        return inside.strip(), after.lstrip(), "closed"
    before, found, after = text.partition(close)
    if found and open_ not in before:
        return before.strip(), after.lstrip(), "closed"
    return None, text, "none"


def read_answer(
    text: str, setting: Setting = "strip", markers: tuple[str, str] = DEFAULT_MARKERS
) -> tuple[str, str | None, Status]:
    """(answer to score, trace to keep, status): with `keep` the answer is the text as it came."""
    reasoning, answer, status = split_reasoning(text, markers)
    if setting == "keep":
        return text, None, status
    return answer, reasoning, status


def split_completion(
    text: str, server_reasoning: str | None, setting: Setting, markers: tuple[str, str] = DEFAULT_MARKERS
) -> tuple[str, str | None, Status]:
    """(answer, trace, status) of a model's completion; a server's own reasoning field comes first.

    A server with a reasoning parser returns the trace apart (`reasoning_content`): its content is the
    answer under either setting, and an empty content after a trace means the model never answered.
    """
    if server_reasoning is not None:
        return text, server_reasoning, "closed" if text.strip() else "unclosed"
    return read_answer(text, setting, markers)


def answer_text(text: str, setting: Setting = "strip", markers: tuple[str, str] = DEFAULT_MARKERS) -> str:
    """The answer part of a response under a setting (the text itself with `keep`)."""
    return read_answer(text, setting, markers)[0]


def trace_summary(statuses: Iterable[Status], setting: Setting, markers: tuple[str, str]) -> dict:
    """What results files record: the setting, the markers and how many answers had a trace.

    `with_trace_share` counts closed and unclosed traces, `unclosed_share` the unclosed ones;
    both are shares of the answers read.
    """
    statuses = list(statuses)
    n = len(statuses)
    traced = sum(s != "none" for s in statuses)
    unclosed = sum(s == "unclosed" for s in statuses)
    return {
        "setting": setting,
        "markers": list(markers),
        "n": n,
        "with_trace": traced,
        "with_trace_share": traced / n if n else 0.0,
        "unclosed": unclosed,
        "unclosed_share": unclosed / n if n else 0.0,
    }


def kept_trace_warning(summary: dict) -> str | None:
    """One line when traces were scored as part of the answer (`--reasoning keep`), else None."""
    if summary["setting"] != "keep" or not summary["with_trace"]:
        return None
    return (
        f"warning: {summary['with_trace']} of {summary['n']} answers hold a reasoning trace "
        f"({summary['markers'][0]}...{summary['markers'][1]}) and were scored with it (--reasoning keep)"
    )
