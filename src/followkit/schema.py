"""The data contracts every stage reads and writes (DESIGN section 2), as pydantic models."""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Message = dict[str, str]  # {"role": ..., "content": ...}


class Constraint(BaseModel):
    """One constraint of an instruction: its id, the checker's kwargs and the rendered sentence."""

    model_config = ConfigDict(extra="forbid")
    id: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    text: str = ""
    dimension: str | None = None  # TRACE dimension key; set for judged constraints


class Instruction(BaseModel):
    """A (possibly complex) instruction: task, constraints, input, and the full user prompt."""

    model_config = ConfigDict(extra="allow")
    id: str
    task: str
    input: str | None = None
    constraints: list[Constraint]
    language: Literal["en", "zh"] = "en"
    prompt: str


class ConversationTurn(BaseModel):
    """One user turn of a multi-turn conversation: the prompt and every constraint in force at that turn.

    Constraints accumulate (Multi-IF): turn k's list holds the earlier turns' constraints and its own.
    """

    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1)
    constraints: list[Constraint] = Field(min_length=1)


class Conversation(BaseModel):
    """A multi-turn instruction: an id, the language, and the user turns the model answers one by one."""

    model_config = ConfigDict(extra="allow")
    id: str
    language: str
    turns: list[ConversationTurn] = Field(min_length=1)


class Response(BaseModel):
    """One sampled response to a chat, with the model and sampling that produced it."""

    model_config = ConfigDict(extra="allow")
    id: str
    messages: list[Message]
    response: str
    model: str
    sampling: dict[str, Any] = Field(default_factory=dict)


class PreferencePair(BaseModel):
    """A DPO pair in TRL's conversational format."""

    model_config = ConfigDict(extra="forbid")
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    meta: dict[str, Any] = Field(default_factory=dict)


class IOPOGroup(BaseModel):
    """An IOPO group: y1 follows x1 but not x2; y2 follows x2 but not x1."""

    model_config = ConfigDict(extra="forbid")
    id: str
    x1: str | list[Message]
    y1: str
    x2: str | list[Message]
    y2: str
    meta: dict[str, Any] = Field(default_factory=dict)


class SFTRecord(BaseModel):
    """A supervised example in TRL's conversational format."""

    model_config = ConfigDict(extra="allow")
    messages: list[Message]
    meta: dict[str, Any] = Field(default_factory=dict)


class VerdictRow(BaseModel):
    """A verdict row in the IFEval reference's output format (plus the row's key or id)."""

    model_config = ConfigDict(extra="allow")
    prompt: str
    response: str
    instruction_id_list: list[str]
    follow_instruction_list: list[bool]
    follow_all_instructions: bool


def render_prompt(task: str, constraint_texts: list[str], input_text: str | None, lang: str = "en") -> str:
    """The user message as TRACE structures it: task, numbered constraints, then the input."""
    lines = [task.strip()]
    lines += [f"{i}. {t.strip()}" for i, t in enumerate(constraint_texts, start=1)]
    out = "\n".join(lines) + "\n"
    if input_text and input_text != "NULL":
        out += "# Inputs:\n" + input_text.strip() + "\n"
    return out


LAYOUTS = ("list", "prose", "before", "inline")
"""Where a prompt states its constraints: `list` is render_prompt's numbered list after the task;
`prose` one unnumbered paragraph after the task; `before` the constraints, then the task; `inline`
the task and the constraints in one running paragraph. The input, if any, always comes last."""

# Lead-ins and input headers vary with the rng so no fixed wording marks where constraints start.
_LEAD_INS = {
    "en": ("", "", "A few requirements: ", "Keep the following in mind. ", "Some rules for your answer: "),
    "zh": ("", "", "要求如下：", "请注意以下几点：", "回答时请遵守："),
}
_INPUT_HEADERS = {
    "en": ("# Inputs:", "Input:", "Here is the text:", "Text:"),
    "zh": ("# Inputs:", "输入：", "原文如下：", "材料："),
}
_END_PUNCT = tuple(".!?:;)\"'。！？：；）”")


def _run_on(sentences: list[str], lang: str) -> str:
    """Sentences as running text: spaced in English, and in Chinese where the last one ends in punctuation."""
    out = ""
    for s in (t.strip() for t in sentences):
        if out:
            out += "" if lang == "zh" and out.endswith(_END_PUNCT) else " "
        out += s
    return out


def render_prompt_layout(
    task: str,
    constraint_texts: list[str],
    input_text: str | None,
    lang: str = "en",
    layout: str = "list",
    rng: random.Random | None = None,
) -> str:
    """The user message with its constraints placed by `layout` (LAYOUTS); `list` is render_prompt."""
    if layout == "list":
        return render_prompt(task, constraint_texts, input_text, lang)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout '{layout}' (expected one of {', '.join(LAYOUTS)})")

    def pick(options: tuple[str, ...]) -> str:
        return options[rng.randrange(len(options))] if rng is not None else options[0]

    key = "zh" if lang == "zh" else "en"
    rules = _run_on(constraint_texts, key)
    task = task.strip()
    if layout == "prose":
        body = task + ("\n\n" + pick(_LEAD_INS[key]) + rules if rules else "")
    elif layout == "before":
        body = (pick(_LEAD_INS[key]) + rules + "\n\n" if rules else "") + task
    else:
        body = _run_on([task, rules], key) if rules else task
    out = body + "\n"
    if input_text and input_text != "NULL":
        out += "\n" + pick(_INPUT_HEADERS[key]) + "\n" + input_text.strip() + "\n"
    return out
