"""The exact rendered prompt of every synth template, and overriding a template by path."""

from __future__ import annotations

import pytest

from followkit.core.errors import InputError
from followkit.synth.common import render_template
from followkit.synth.expand import (
    QCResult,
    Structured,
    StructuredConstraint,
    expand_prompt,
    qc_prompt,
    structure_prompt,
)
from followkit.synth.pairs import rewrite_prompt
from followkit.synth.refine import refine_prompt
from followkit.synth.seeds import SeedTask


def test_expand_prompt_exact():
    s = SeedTask(id="a", task="Summarize the text.", input="Cats sleep a lot.", language="en")
    got = expand_prompt(s, ["numerical", "target_audience"])
    assert got == (
        "You are helping to build a dataset of complex instructions for training assistants.\n"
        "\n"
        "Here is a simple instruction:\n"
        "<instruction>\n"
        "Summarize the text.\n"
        "</instruction>\n"
        "\n"
        "It works on this input:\n"
        "<input>\n"
        "Cats sleep a lot.\n"
        "</input>\n"
        "\n"
        "Rewrite it into one richer instruction that keeps the original task and adds exactly 2 constraints, "
        "one for each of these constraint dimensions:\n"
        "- Numerical (numerical)\n"
        "- Target Audience (target_audience)\n"
        "\n"
        "Rules:\n"
        "- Every constraint must be concrete and checkable (for example a number, a format, a word to include, "
        "an audience, a tone).\n"
        "- The constraints must not repeat each other or contradict each other.\n"
        "- Write in the same language as the simple instruction.\n"
        "- Do not answer the instruction. Reply with the rewritten instruction only.\n"
    )
    no_input = expand_prompt(SeedTask(id="b", task="写诗。", language="zh"), ["emotion"])
    assert "<instruction>\n写诗。\n</instruction>\n\nRewrite it" in no_input
    assert "<input>" not in no_input


def test_structure_prompt_exact():
    got = structure_prompt("  Write a poem. Use 3 lines.  ")
    keys = (
        "theme, exclusion, inclusion, value, privacy, numerical, role_playing, target_audience, prior_condition, "
        "nl_process_background, markdown_process_background, table_background, text_background, tone_and_style, "
        "emotion, linguistic_characteristics, multilingual, output_format, text_pattern, grammar_structure, "
        "citation, numbering_and_list, hierarchical_structure, template, positive_example, negative_example"
    )
    assert got == (
        "Split the instruction below into its parts and reply with one JSON object, and nothing else.\n"
        "\n"
        "<instruction>\n"
        "Write a poem. Use 3 lines.\n"
        "</instruction>\n"
        "\n"
        "The JSON object must have exactly these keys:\n"
        '- "task": the task description, without the constraints (a string)\n'
        '- "constraints": a list of objects {"dimension": D, "text": T}, one per constraint, where T is the '
        f"constraint as one sentence and D is one of: {keys}\n"
        '- "input": the material the task works on, copied exactly (a string), or null if there is none\n'
        "\n"
        "Example:\n"
        '{"task": "Write a product description for a desk lamp.", "constraints": [{"dimension": '
        '"target_audience", "text": "Address it to university students."}, {"dimension": "numerical", "text": '
        '"Keep it under 80 words."}], "input": null}\n'
    )


def test_qc_prompt_exact():
    st = Structured(
        task="Write a poem.",
        constraints=[
            StructuredConstraint(dimension="numerical", text="Use 3 lines."),
            StructuredConstraint(dimension="Emotion", text="Sound hopeful."),
        ],
        input=None,
    )
    assert qc_prompt(st) == (
        "Check the numbered constraints of this instruction for quality.\n"
        "\n"
        "Task: Write a poem.\n"
        "Constraints:\n"
        "1. [numerical] Use 3 lines.\n"
        "2. [emotion] Sound hopeful.\n"
        "Input: none\n"
        "\n"
        "A constraint must be removed if it is:\n"
        '- "redundant": it says the same thing as an earlier constraint;\n'
        '- "conflicting": it cannot be satisfied together with an earlier constraint;\n'
        '- "incomplete": it is vague, unfinished, or cannot be checked.\n'
        "\n"
        "Reply with one JSON object, and nothing else, of the form\n"
        '{"keep": [numbers of the constraints to keep], "removed": [{"index": number, "reason": "redundant" | '
        '"conflicting" | "incomplete"}]}\n'
        'Every constraint number from 1 to 2 must appear exactly once, either in "keep" or in "removed".\n'
    )


def test_retry_refine_rewrite_prompts_exact():
    assert render_template("synth_retry", error="truncated JSON output") == (
        "Your reply could not be used: truncated JSON output\nReply again with only the corrected JSON object.\n"
    )
    assert refine_prompt("Say hi.\n1. Use no commas.\n", "Hi, there.", "Use no commas.") == (
        "An assistant was given the instruction below and wrote the response below. The response breaks one "
        "constraint of the instruction.\n"
        "\n"
        "<instruction>\n"
        "Say hi.\n"
        "1. Use no commas.\n"
        "</instruction>\n"
        "\n"
        "<response>\n"
        "Hi, there.\n"
        "</response>\n"
        "\n"
        "The broken constraint: Use no commas.\n"
        "\n"
        "Edit the response so that it follows this constraint. Change as little as possible, and keep following "
        "every other constraint of the instruction. Reply with the full edited response only, without any "
        "comment.\n"
    )
    assert rewrite_prompt("Use a warm tone.") == (
        "Here is one constraint of an instruction:\n"
        "<constraint>\n"
        "Use a warm tone.\n"
        "</constraint>\n"
        "\n"
        "Write a new constraint of the same kind that asks for something clearly different, so that a response "
        "which follows the original constraint cannot follow the new one. Write it in the same language, as one "
        "sentence. Reply with the new constraint only.\n"
    )


def test_text_with_dollar_signs_is_inserted_verbatim():
    got = refine_prompt("Price it at $5.", "It costs ${price}.", "x")
    assert "It costs ${price}." in got and "Price it at $5." in got


def test_template_override_by_path(tmp_path):
    p = tmp_path / "mine.txt"
    p.write_text("Fix [${constraint}] in: ${response}", encoding="utf-8")
    assert refine_prompt("q", "r", "c", template=str(p)) == "Fix [c] in: r"
    with pytest.raises(InputError, match="no such prompt template"):
        render_template(str(tmp_path / "missing.txt"))
    with pytest.raises(InputError, match="unknown prompt template"):
        render_template("synth_nope")
    bad = tmp_path / "bad.txt"
    bad.write_text("${nope}", encoding="utf-8")
    with pytest.raises(InputError, match="needs field 'nope'"):
        render_template(str(bad), response="x")


def test_qc_schema_requires_a_partition():
    QCResult.model_validate({"keep": [1, 3], "removed": [{"index": 2, "reason": "redundant"}], "n": 3})
    with pytest.raises(ValueError, match="exactly once"):
        QCResult.model_validate({"keep": [1], "removed": [], "n": 2})
    with pytest.raises(ValueError):
        QCResult.model_validate({"keep": [1], "removed": [{"index": 2, "reason": "boring"}], "n": 2})
