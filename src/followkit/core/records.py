"""The typed records that cross stage boundaries (DESIGN section 2): one reader, one writer, one adapter per foreign shape.

Every stage reads and writes JSONL. A record type here is the contract between the stage that
writes it and the stages that read it:

    Instruction     synth compose / expand  -> synth respond, eval followkit-bench, train grpo
    Conversation    a multi-turn instruction (Multi-IF, synth compose --turns) -> eval multi-if, synth respond
    Response        synth respond            -> synth pairs / refine, verify, car (as a TeacherSet)
    ConstrainedResponse  a response to check -> verify (followkit rows, or IFEval's via the adapter)
    VerdictRow      verify                   -> (users; IFEval's output format)
    PreferencePair  synth pairs --format dpo -> train --method dpo
    IOPOGroup       synth pairs --format iopo-> train --method iopo
    SFTRecord       synth pairs --format sft -> train --method sft
    EvalSample      eval                     -> report, compare
    TeacherSet      one teacher's responses  -> car
    DifficultyRow   {id, difficulty} or winrate's judgments.jsonl -> winrate --difficulty
    GeneralRecord   a ShareGPT or messages conversation -> train mix=FILE:RATIO

`read(path, Type)` checks every line (file:line:field errors), rejects duplicate ids (naming both
lines) and an empty file; `write(path, records)` writes atomically. Rows in another project's
shape (IFEval, IFBench, TRACE, a bare prompt or messages, TRL conversational) come in through
`adapt(rec, shape)`, one small function per shape, so no stage parses a foreign shape by hand.
`render_prompt` / `render_prompt_layout` build an Instruction's user prompt from its task and constraints.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from followkit.core.errors import InputError, field_error
from followkit.core.io import as_row

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
    task: str | None = None  # as synth compose writes them; Multi-IF rows have neither
    input: str | None = None
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


def _int_id_as_text(value: Any) -> Any:
    """An integer id as its text (IFEval keys and many hub datasets' ids are integers); others as given."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


TextId = Annotated[str, BeforeValidator(_int_id_as_text)]
"""A record id: text, an integer read as its text."""


class PreferencePair(BaseModel):
    """A DPO pair in TRL's conversational format (synth pairs and refine give each an id)."""

    model_config = ConfigDict(extra="forbid")
    id: TextId | None = None
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    meta: dict[str, Any] = Field(default_factory=dict)


class IOPOGroup(BaseModel):
    """An IOPO group: y1 follows x1 but not x2; y2 follows x2 but not x1."""

    model_config = ConfigDict(extra="forbid")
    id: TextId
    x1: str | list[Message]
    y1: str
    x2: str | list[Message]
    y2: str
    meta: dict[str, Any] = Field(default_factory=dict)


class SFTRecord(BaseModel):
    """A supervised example in TRL's conversational format (synth pairs and refine give each an id)."""

    model_config = ConfigDict(extra="allow")
    id: TextId | None = None
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


__all__ = [
    "ADAPTERS",
    "RECORD_TYPES",
    "SHAREGPT_ROLES",
    "ConstrainedResponse",
    "Constraint",
    "Conversation",
    "ConversationTurn",
    "DifficultyRow",
    "EvalSample",
    "GeneralRecord",
    "IOPOGroup",
    "Instruction",
    "LAYOUTS",
    "Message",
    "PreferencePair",
    "PromptResponse",
    "Reads",
    "Response",
    "ResponseWithVerdicts",
    "SFTRecord",
    "TeacherRow",
    "TeacherSet",
    "Verdict",
    "VerdictRow",
    "Writes",
    "adapt",
    "as_row",
    "detect_shape",
    "iter_records",
    "parse_row",
    "read",
    "record_name",
    "render_prompt",
    "render_prompt_layout",
    "write",
]

R = TypeVar("R", bound=BaseModel)


@dataclass
class Verdict:
    """One constraint's verdict: by rule (strict and loose) or by the judge (score 0-10)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # checked as strictly inside a record
    id: str
    source: str  # "rule" | "judge"
    strict: bool | None
    loose: bool | None
    score: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The verdict as a JSON row: score and error only when set."""
        d = asdict(self)
        return {k: v for k, v in d.items() if v is not None or k in ("strict", "loose")}


class ResponseWithVerdicts(Response):
    """A Response as `synth respond` writes it: the instruction's constraints and their verdicts."""

    key: str  # "<instruction id>#<sample>"
    sample: int = 0
    prompt: str | None = None  # the user message as text; rows made by hand may leave it to `messages`
    constraints: list[Constraint]
    verdicts: list[Verdict]
    follow_all_strict: bool | None = None
    follow_all_loose: bool | None = None

    @field_serializer("verdicts")
    def _verdict_rows(self, verdicts: list[Verdict]) -> list[dict[str, Any]]:
        return [v.to_dict() for v in verdicts]  # score and error only when set, as verify writes them


class ConstrainedResponse(BaseModel):
    """One row `verify` reads: a response, its prompt and its constraints.

    followkit rows carry an `id`; IFEval / IFBench rows come through the ifeval adapter and keep
    their `key` as written (str or int), which verify's output rows repeat.
    """

    model_config = ConfigDict(extra="allow")
    key: str | int | None = None
    id: str | int | None = None
    prompt: str
    response: str
    constraints: list[Constraint]

    @field_validator("key", "id", mode="before")
    @classmethod
    def _str_or_int(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise ValueError(f"expected str or int, got {type(value).__name__}")
        return value


class ConstrainedPrompt(BaseModel):
    """A prompt with its constraints and no response (GRPO's prompts): followkit or IFEval rows."""

    model_config = ConfigDict(extra="allow")
    id: TextId
    prompt: str
    constraints: list[Constraint]


class PromptResponse(BaseModel):
    """A bare response row: the prompt and the response to it (`verify --prompts` joins these by prompt)."""

    model_config = ConfigDict(extra="allow")
    prompt: str
    response: str


class EvalSample(BaseModel):
    """One scored item of `followkit eval` (samples.jsonl): the chat sent, the response, the scores."""

    model_config = ConfigDict(extra="allow")
    id: str
    messages: list[Message]
    response: str


class TeacherRow(BaseModel):
    """One teacher response for CAR: the chat it answered, the response, the constraints to verify."""

    model_config = ConfigDict(extra="allow")
    id: str
    messages: list[Message]
    response: str
    constraints: list[Constraint] = Field(default_factory=list)
    model: str | None = None


class TeacherSet(BaseModel):
    """One teacher's responses (a `car --teacher NAME=FILE`)."""

    name: str
    path: str
    rows: list[TeacherRow]

    @classmethod
    def read(cls, name: str, path: str | Path) -> TeacherSet:
        """A teacher's file in any shape `adapt` knows, checked row by row."""
        return cls(name=name, path=str(path), rows=read(path, TeacherRow, shape="auto"))


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


class DifficultyRow(BaseModel):
    """One instruction's difficulty for `winrate --difficulty`: {id, difficulty}, or a judgments.jsonl row {id, preference}.

    From a judgment, difficulty = 1 - preference (instructions where other models lose are hard);
    a null preference (a pair judged in one order only) gives None: no value from that row.
    """

    model_config = ConfigDict(extra="allow")
    id: str
    difficulty: float | None

    @model_validator(mode="before")
    @classmethod
    def _from_preference(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("id") is None:
            raise field_error("id", "missing")
        out = {**data, "id": str(data["id"])}
        if "difficulty" in data:
            value, field = data["difficulty"], "difficulty"
        elif "preference" in data:
            if data["preference"] is None:
                return {**out, "difficulty": None}
            value, field = data["preference"], "preference"
        else:
            raise field_error("difficulty", "expected 'difficulty' or 'preference'")
        if not _finite(value):
            raise field_error(field, f"expected a finite number, got {value!r}")
        return {**out, "difficulty": float(value) if field == "difficulty" else 1.0 - float(value)}


SHAREGPT_ROLES: dict[str, str] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}
"""ShareGPT speaker names -> chat roles."""


def _sharegpt_messages(turns: Any) -> list[dict[str, Any]]:
    """ShareGPT turns [{from, value}] as chat messages; field_error naming the turn at fault."""
    if not isinstance(turns, list) or not turns:
        raise field_error("conversations", "expected a non-empty list of turns")
    msgs = []
    for i, turn in enumerate(turns):
        where = f"conversations[{i}]"
        if not isinstance(turn, dict):
            raise field_error(where, "expected {'from': ..., 'value': ...}")
        role = SHAREGPT_ROLES.get(turn.get("from"))  # type: ignore[arg-type]
        if role is None:
            raise field_error(
                f"{where}.from",
                f"unknown speaker {turn.get('from')!r}; expected one of {', '.join(SHAREGPT_ROLES)}",
            )
        value = turn.get("value")
        if not isinstance(value, str):
            raise field_error(f"{where}.value", f"expected a string, got {type(value).__name__}")
        msgs.append({"role": role, "content": value})
    return msgs


def _chat_messages(msgs: Any) -> list[dict[str, Any]]:
    """A messages list, checked turn by turn (extra keys of a turn are kept as written)."""
    if not isinstance(msgs, list) or not msgs:
        raise field_error("messages", "expected a non-empty list of messages")
    for i, msg in enumerate(msgs):
        if not isinstance(msg, dict) or msg.get("role") not in ("system", "user", "assistant"):
            raise field_error(
                f"messages[{i}].role", "expected {'role': 'system'|'user'|'assistant', 'content': ...}"
            )
        content = msg.get("content")
        if not isinstance(content, str):
            raise field_error(f"messages[{i}].content", f"expected a string, got {type(content).__name__}")
    return msgs


class GeneralRecord(BaseModel):
    """A general conversation mixed into training: ShareGPT {conversations: [{from, value}]} or {messages}.

    The last turn must be the assistant's (a non-empty response) after at least one prompt turn;
    a ShareGPT record is read as the same messages. The id is optional (general data often has none).
    """

    model_config = ConfigDict(extra="allow")
    id: str | None = None
    messages: list[dict[str, Any]]

    @model_validator(mode="before")
    @classmethod
    def _conversation(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "conversations" in data:
            name, msgs = "conversations", _sharegpt_messages(data["conversations"])
        elif "messages" in data:
            name, msgs = "messages", _chat_messages(data["messages"])
        else:
            raise field_error(
                "conversations", "missing: a general record needs 'conversations' (ShareGPT) or 'messages'"
            )
        last = f"{name}[{len(msgs) - 1}]"
        if len(msgs) < 2 or msgs[-1]["role"] != "assistant":
            raise field_error(last, "the last turn must be the assistant's, after a prompt")
        if not msgs[-1]["content"].strip():
            raise field_error(last, "empty response")
        out = {k: v for k, v in data.items() if k != "conversations"}
        out["messages"] = msgs
        if out.get("id") is not None:
            out["id"] = str(out["id"])
        return out

    @property
    def prompt(self) -> list[dict[str, Any]]:
        """Every turn before the response."""
        return self.messages[:-1]

    @property
    def response(self) -> list[dict[str, Any]]:
        """The final assistant turn, as a one-message list."""
        return self.messages[-1:]


RECORD_TYPES: dict[str, type[BaseModel]] = {
    "Instruction": Instruction,
    "Conversation": Conversation,
    "Response": ResponseWithVerdicts,
    "ConstrainedResponse": ConstrainedResponse,
    "ConstrainedPrompt": ConstrainedPrompt,
    "VerdictRow": VerdictRow,
    "PreferencePair": PreferencePair,
    "IOPOGroup": IOPOGroup,
    "SFTRecord": SFTRecord,
    "EvalSample": EvalSample,
    "TeacherRow": TeacherRow,
}
"""Record type name -> model: the names a pipeline's chain check reports."""


@dataclass(frozen=True)
class Reads:
    """What a stage reads (STYLE 13): the record types it accepts in one JSONL file.

    A stage's config declares `reads: ClassVar[Reads]` and `writes: ClassVar[Writes]`; a config whose
    outputs (or input) depend on one of its fields names that field in `records_by` and keys `writes`
    (and, if it varies, `reads`) by the field's value. `followkit run --dry-run` checks the chain from these.
    """

    types: tuple[type[BaseModel], ...]
    flag: str | None = None  # the option naming that file; None: every .jsonl input of the stage


Writes = dict[str, type[BaseModel]]
"""Output file name -> the record type a stage writes there."""


def record_name(kind: type[BaseModel]) -> str:
    """The RECORD_TYPES name of a record type (Response for ResponseWithVerdicts)."""
    return next((name for name, t in RECORD_TYPES.items() if t is kind), kind.__name__)


# --------------------------------------------------------------------------- foreign shapes


def _user(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def _ifeval_pairs(rec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """An IFEval row's (id, kwargs) pairs; ValueError("field: why") naming the field at fault."""
    if "instruction_id_list" not in rec:
        raise ValueError("instruction_id_list: missing")
    ids, kws = rec["instruction_id_list"], rec.get("kwargs")
    if not isinstance(ids, list):
        raise ValueError(f"instruction_id_list: expected list, got {type(ids).__name__}")
    for i, cid in enumerate(ids):
        if not isinstance(cid, str):
            raise ValueError(f"instruction_id_list[{i}]: expected a string, got {type(cid).__name__}")
    if kws is None:
        kws = [None] * len(ids)
    if not isinstance(kws, list):
        raise ValueError(f"kwargs: expected a list, got {type(kws).__name__}")
    if len(kws) != len(ids):
        raise ValueError(f"kwargs: has {len(kws)} entries for {len(ids)} instruction ids")
    for i, kw in enumerate(kws):
        if kw is not None and not isinstance(kw, dict):
            raise ValueError(f"kwargs[{i}]: expected an object, got {type(kw).__name__}")
    # The HF copy of IFEval fills every kwarg name of every id with null: a null is an absent kwarg.
    return [
        (cid, {k: v for k, v in (kw or {}).items() if v is not None})
        for cid, kw in zip(ids, kws, strict=True)
    ]


def _from_ifeval(rec: dict[str, Any]) -> dict[str, Any]:
    """IFEval / IFBench rows: key, prompt, instruction_id_list, kwargs (+ response); the key is kept."""
    out = {k: v for k, v in rec.items() if k not in ("instruction_id_list", "kwargs")}
    if "key" in rec or "id" in rec:
        out["id"] = str(rec.get("key", rec.get("id")))
    out["constraints"] = [{"id": cid, "kwargs": kw} for cid, kw in _ifeval_pairs(rec)]
    out.setdefault("messages", _user(rec.get("prompt", "")))
    out.setdefault("task", rec.get("prompt", ""))
    return out


def _from_trace(rec: dict[str, Any]) -> dict[str, Any]:
    """TRACE rows: constraints as numbered sentences (judged, under the 'trace:text' id)."""
    out = dict(rec)
    text = rec.get("constraints", "")
    out["constraints"] = [
        {"id": "trace:text", "text": t.strip(), "dimension": "trace"}
        for t in str(text).splitlines()
        if t.strip()
    ]
    if "prompt" in rec:
        out.setdefault("messages", _user(rec["prompt"]))
    return out


def _from_prompt(rec: dict[str, Any]) -> dict[str, Any]:
    """A bare {prompt|instruction, response?} or {messages, response?} row."""
    out = dict(rec)
    if "messages" not in out:
        out["messages"] = _user(rec.get("prompt", rec.get("instruction", "")))
    if "prompt" not in out:
        users = [m.get("content") for m in out["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            out["prompt"] = users[-1]
    if "id" not in out and "key" in out:
        out["id"] = str(out["key"])
    return out


def _from_alpaca_eval(rec: dict[str, Any]) -> dict[str, Any]:
    """AlpacaEval rows ({instruction, output, generator}), or bare ones: response and model by their names."""
    out = dict(rec)
    if "response" not in out and "output" in out:
        out["response"] = out.pop("output")
    if not out.get("model") and out.get("generator"):
        out["model"] = out["generator"]
    return _from_prompt(out)


def _split_answer(rec: dict[str, Any]) -> dict[str, Any]:
    """A row whose messages end with the assistant's turn and has no response: that turn is the response."""
    msgs = rec.get("messages")
    out = dict(rec)
    last = msgs[-1] if isinstance(msgs, list) and msgs else None
    if "response" not in rec and isinstance(last, dict) and last.get("role") == "assistant":
        out["messages"], out["response"] = msgs[:-1], last.get("content", "")
    return out


def _from_trl(rec: dict[str, Any]) -> dict[str, Any]:
    """TRL conversational rows: a messages list whose last turn is the assistant's."""
    return _from_prompt(_split_answer(rec))


def _from_followkit(rec: dict[str, Any]) -> dict[str, Any]:
    """followkit rows (an Instruction with its response): the chat is the prompt when none is given."""
    out = _split_answer(rec)
    if "messages" not in out and isinstance(rec.get("prompt"), str):
        out["messages"] = _user(rec["prompt"])
    return out


ADAPTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "followkit": _from_followkit,
    "ifeval": _from_ifeval,  # IFBench rows share IFEval's shape
    "ifbench": _from_ifeval,
    "trace": _from_trace,
    "prompt": _from_prompt,
    "trl": _from_trl,
    "alpaca_eval": _from_alpaca_eval,
}
"""Shape name -> a function from one row of that shape to followkit's field names."""


def detect_shape(rec: dict[str, Any]) -> str:
    """The shape of a row: followkit, ifeval, trace, trl or prompt."""
    if isinstance(rec.get("constraints"), list):
        return "followkit"
    if "instruction_id_list" in rec:
        return "ifeval"
    if isinstance(rec.get("constraints"), str):
        return "trace"
    msgs = rec.get("messages")
    last = msgs[-1] if isinstance(msgs, list) and msgs else None
    if "response" not in rec and isinstance(last, dict) and last.get("role") == "assistant":
        return "trl"
    return "prompt"


def adapt(rec: dict[str, Any], shape: str = "auto") -> dict[str, Any]:
    """A row of `shape` ("auto": detected) with followkit's field names; ValueError if it cannot be."""
    name = detect_shape(rec) if shape == "auto" else shape
    if name not in ADAPTERS:
        raise ValueError(f"unknown shape '{shape}': expected auto or one of {', '.join(ADAPTERS)}")
    return ADAPTERS[name](rec)


# --------------------------------------------------------------------------- read and write


def _record_id(rec: BaseModel) -> str | None:
    for name in ("key", "id"):
        value = getattr(rec, name, None)
        if value is not None:
            return str(value)
    return None


def parse_row(
    raw: dict[str, Any], kind: type[R], path: str | Path, line: int, *, shape: str = "followkit"
) -> R:
    """One row of a file as `kind` (through the `shape` adapter); InputError naming file, line and field."""
    try:
        return kind.model_validate(adapt(raw, shape) if shape != "followkit" else raw)
    except ValidationError as exc:
        raise InputError.from_validation(exc, path=str(path), line=line) from None
    except (ValueError, TypeError) as exc:
        field, _, msg = str(exc).partition(": ")
        raise InputError(msg or field, path=str(path), line=line, field=field if msg else None) from None


def iter_records(
    path: str | Path,
    kind: type[R],
    *,
    shape: str = "followkit",
    unique: bool = True,
    by_field: dict[str, type[BaseModel]] | None = None,
) -> Iterator[tuple[int, R]]:
    """(line, record) for each row of a JSONL file, validated as `kind`.

    `by_field` lets a file mix types: a row holding one of its fields is read as that field's type
    ({"turns": Conversation}: multi-turn rows among Instructions). A bad row raises InputError naming
    file, line and field; with `unique`, a repeated id (or key) names both lines; an empty file is an error.
    """
    from followkit.core.io import iter_jsonl

    seen: dict[str, int] = {}
    n = 0
    for line, raw in iter_jsonl(path):
        row_kind = next((t for f, t in (by_field or {}).items() if f in raw), kind)
        rec = parse_row(raw, row_kind, path, line, shape=shape)  # type: ignore[arg-type]
        n += 1
        rid = _record_id(rec) if unique else None
        if rid is not None:
            if rid in seen:
                raise InputError(
                    f"duplicate id '{rid}' (also on line {seen[rid]})", path=str(path), line=line, field="id"
                )
            seen[rid] = line
        yield line, rec
    if n == 0:
        raise InputError(f"no {kind.__name__} records (empty file)", path=str(path))


def read(path: str | Path, kind: type[R], *, shape: str = "followkit", unique: bool = True) -> list[R]:
    """Every record of a JSONL file as `kind` (see iter_records for the checks)."""
    return [rec for _, rec in iter_records(path, kind, shape=shape, unique=unique)]


def write(path: str | Path, records: Iterable[BaseModel | dict[str, Any]]) -> int:
    """Write records atomically as JSONL (see core.io.as_row); returns the count. Stages that resume append
    through core.io.AppendLog, which takes the same records."""
    from followkit.core.io import write_jsonl

    return write_jsonl(path, map(as_row, records))


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
