"""Rows of a small run folder for the report tests (tests/report/)."""

from __future__ import annotations


def sample_row(i: int, verdicts: list[bool]) -> dict:
    """One samples.jsonl row: prompt i with one constraint per verdict, strict and loose alike."""
    ids = [
        "punctuation:no_comma",
        "change_case:english_lowercase",
        "detectable_format:title",
        "keywords:existence",
    ]
    return {
        "id": f"s{i}",
        "prompt": f"prompt {i} <b>not bold</b>",
        "response": f"response {i}",
        "constraints": [{"id": ids[j % 4], "kwargs": {}, "text": f"rule {j}"} for j in range(len(verdicts))],
        "verdicts": {"strict": verdicts, "loose": verdicts},
    }
