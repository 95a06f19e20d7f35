"""Judges that echo their whole prompt, before or after their own verdict, are read by their own verdict.

The echoed prompt holds the marker line followed by the answer format ("[[1]] if response 1 is
better", "Constraints Overall Score: [[score]]", "Checklist Scores: {"1": 0 or 1}"): the one shared
reader (judge.verdict_segments) takes only an exact verdict after a marker, and moves from an echoed
marker to the judge's own.
"""

from __future__ import annotations

import pytest

from followkit.evaluate.checklist import (
    ChecklistRequest,
    checklist_template,
    parse_checklist,
    render_checklist_prompt,
)
from followkit.evaluate.winrate import load_template as winrate_template
from followkit.evaluate.winrate import pair_tags, parse_winner, render_prompt
from followkit.judges.trace import (
    JudgeRequest,
    load_template,
    parse_verdict,
    render_judge_prompt,
    verdict_marker,
)

INSTRUCTION = "Write a haiku about rain."
FIRST = "Rain taps the window / a slow grey afternoon hums / tea cools in my hands"
SECOND = "rain"


def _echo(prompt: str, own: str, where: str) -> str:
    return f"{prompt}\n\n{own}" if where == "before" else f"{own}\n\n{prompt}"


@pytest.mark.parametrize("where", ["before", "after"])
def test_winrate_judge_echoing_the_prompt(where: str) -> None:
    prompt = render_prompt(winrate_template()[1], INSTRUCTION, FIRST, SECOND)
    marker = pair_tags(INSTRUCTION, FIRST, SECOND)["verdict"]
    assert f"{marker}\n[[1]] if response 1 is better" in prompt  # the menu the old reader took as a verdict
    raw = _echo(prompt, f"Response 2 is a single word.\n{marker}\n[[2]]", where)
    assert parse_winner(raw, INSTRUCTION, FIRST, SECOND) == "2"
    # the echo alone is no verdict at all
    assert parse_winner(prompt, INSTRUCTION, FIRST, SECOND) is None


def test_winrate_reads_only_an_exact_verdict_line() -> None:
    marker = pair_tags(INSTRUCTION, FIRST, SECOND)["verdict"]
    assert parse_winner(f"{marker}\n**[[tie]]**", INSTRUCTION, FIRST, SECOND) == "tie"
    assert parse_winner(f"{marker}\n[[1]] if response 1 is better", INSTRUCTION, FIRST, SECOND) is None


@pytest.mark.parametrize("where", ["before", "after"])
def test_trace_judge_echoing_the_prompt(where: str) -> None:
    req = JudgeRequest(INSTRUCTION, ["1. Write in lowercase.", "2. Use three lines."], FIRST)
    prompt = render_judge_prompt(req, load_template("en")[1])
    marker = verdict_marker(FIRST)
    assert marker in prompt
    own = f'Both constraints are met.\n{marker}\nFine Grained Score: [{{"1": 10}}, {{"2": 7}}]\nConstraints Overall Score: [[8]]'
    assert parse_verdict(_echo(prompt, own, where), 2, FIRST, [1, 2], marker) == ([10, 7], 8)


@pytest.mark.parametrize("where", ["before", "after"])
def test_checklist_judge_echoing_the_prompt(where: str) -> None:
    req = ChecklistRequest(INSTRUCTION, ["Is it a haiku?", "Is it about rain?"], FIRST, [1, 2])
    prompt = render_checklist_prompt(req, checklist_template(None, "cfbench_judge"))
    marker = verdict_marker(FIRST)
    assert marker in prompt
    own = f'1. yes\n2. yes\n{marker}\nChecklist Scores: {{"1": 1, "2": 0}}'
    assert parse_checklist(_echo(prompt, own, where), req, marker) == [1, 0]
