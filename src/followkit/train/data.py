"""Training data: read SFT / DPO / IOPO records, tokenize with the chat template, truncate.

Data contract (JSONL, one record a line; DESIGN section 2):

- ``sft``:  ``{"messages": [...]}`` (TRL conversational). The last message must be the assistant's;
  it is the response (trained on), everything before it is the prompt (masked).
- ``dpo``:  ``{"prompt": [msgs] | str, "chosen": [msgs] | str, "rejected": [msgs] | str}`` (TRL
  conversational preference format; a string prompt is one user message, a string response one
  assistant message).
- ``iopo``: ``{"id", "x1", "y1", "x2", "y2"}``: x a message list (what `synth pairs` writes, with
  any system turn) or, as older files have it, a user prompt string; y a string.

Tokenization follows TRL 1.16: the prompt is the chat template with the generation prompt, and
the response is what the template adds after it when the assistant message is appended (so it
ends with the template's end-of-turn tokens). Each item becomes a :class:`TokenizedItem`: its
distinct prompts and responses, and the (prompt, response) sequences whose log-probs the loss
needs, in the loss's order: the method's ``layout`` in followkit.train.methods.METHODS (DPO: chosen,
rejected; IOPO: A=(x1,y1), B=(x1,y2), C=(x2,y2), D=(x2,y1)). Each row is first checked as the
method's record type (followkit.core.records: SFTRecord, PreferencePair, IOPOGroup).

Truncation (``max_length`` bounds prompt + one response): an item whose longest prompt alone
fills ``max_length`` is skipped and counted. Otherwise each response keeps at least
``min(len, response_budget)`` tokens (more if the prompt leaves room), and prompts too long for
that are cut from the left (their start), keeping the generation prompt next to the response.
Every cut is counted in :class:`DataStats`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from followkit.core.errors import InputError
from followkit.core.io import iter_jsonl
from followkit.train.methods import Method
from followkit.train.methods import method as train_method

Messages = list[dict[str, str]]


@dataclass
class TokenizedItem:
    """One training item: distinct prompts and responses (token ids) and its sequences in loss order."""

    key: str  # stable id: the record's id, else file line
    prompts: list[list[int]]
    responses: list[list[int]]
    sequences: tuple[tuple[int, int], ...]
    ref_logps: list[float] | None = None  # cached reference log-probs, one per sequence
    general: bool = False  # a mixed-in general SFT record (followkit.train.mix): SFT term only

    def num_tokens(self, packed: bool = True) -> int:
        """Tokens this item costs in a batch: each prompt once per row when packed, else per sequence."""
        if packed:
            return sum(len(p) for p in self.prompts) + sum(len(self.responses[r]) for _, r in self.sequences)
        return sum(len(self.prompts[p]) + len(self.responses[r]) for p, r in self.sequences)


@dataclass
class DataStats:
    """What reading and truncation did to a data file (saved as OUT/data_stats.json)."""

    records: int = 0
    kept: int = 0
    skipped_prompt_too_long: int = 0
    skipped_bad_record: int = 0
    truncated_items: int = 0
    prompt_tokens_cut: int = 0
    response_tokens_cut: int = 0
    bad_records: list[str] = field(default_factory=list)  # "file:line: field ...: why", first 20

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def _as_messages(value: str | Messages, role: str, path: str, line: int, name: str) -> Messages:
    """A typed record's prompt or response as a message list: what the record type leaves open (a blank
    string, an empty list, a message without role or content) is refused here; the types check the rest."""
    if isinstance(value, str):
        if not value.strip():
            raise InputError("empty text", path=path, line=line, field=name)
        return [{"role": role, "content": value}]
    if not value:
        raise InputError(
            "expected a string or a non-empty list of messages", path=path, line=line, field=name
        )
    for i, msg in enumerate(value):
        if "role" not in msg or "content" not in msg:
            raise InputError(
                "expected a message {'role': ..., 'content': ...}", path=path, line=line, field=f"{name}[{i}]"
            )
    return value


def _response(value: str | Messages, path: str, line: int, name: str) -> Messages:
    """A response: one assistant message with non-empty content."""
    msgs = _as_messages(value, "assistant", path, line, name)
    if len(msgs) != 1 or msgs[0]["role"] != "assistant":
        raise InputError("expected exactly one assistant message", path=path, line=line, field=name)
    if not msgs[0]["content"].strip():
        raise InputError("empty response", path=path, line=line, field=f"{name}[0].content")
    return msgs


def _typed(method: Method, rec: dict, path: str, line: int) -> Any:
    """The row as the method's record type (followkit.core.records): missing or mistyped fields fail here.

    Columns the record type does not declare are ignored (TRL datasets carry extra columns), and a
    string prompt or response stands for one user or assistant message, as the data contract says.
    """
    from followkit.core.records import RECORD_TYPES, parse_row

    kind = RECORD_TYPES[method.record]
    row = {k: v for k, v in rec.items() if k in kind.model_fields}
    for name in method.prompts + method.responses:
        value = row.get(name)
        if isinstance(value, str) and kind.model_fields[name].annotation is not str:
            role = "user" if name in method.prompts else "assistant"
            row[name] = _as_messages(value, role, path, line, name)
    return parse_row(row, kind, path, line)


def parse_record(method: str, rec: dict, path: str, line: int) -> tuple[str, list[Messages], list[Messages]]:
    """(key, prompts, responses) of one record as message lists; InputError naming file:line:field."""
    m = train_method(method)
    typed = _typed(m, rec, path, line)
    key = str(rec.get("id", f"line{line}"))
    if m.prompts == m.responses:  # one conversation: the last turn is the response, the rest the prompt
        name = m.prompts[0]
        msgs = _as_messages(getattr(typed, name), "user", path, line, name)
        if msgs[-1]["role"] != "assistant" or len(msgs) < 2:
            raise InputError(
                "the last message must be the assistant's, after a prompt", path=path, line=line, field=name
            )
        return key, [msgs[:-1]], [_response([msgs[-1]], path, line, f"{name}[{len(msgs) - 1}]")]
    prompts = [_as_messages(getattr(typed, name), "user", path, line, name) for name in m.prompts]
    responses = [_response(getattr(typed, name), path, line, name) for name in m.responses]
    return key, prompts, responses


def _render_ids(tokenizer: Any, messages: Messages, add_generation_prompt: bool) -> list[int]:
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def tokenize_item(
    tokenizer: Any, method: str, key: str, prompts: list[Messages], responses: list[Messages]
) -> TokenizedItem:
    """Token ids of an item's prompts and responses under the tokenizer's chat template."""
    layout = train_method(method).layout
    prompt_ids = [_render_ids(tokenizer, p, add_generation_prompt=True) for p in prompts]
    prompt_len = [len(p) for p in prompt_ids]
    response_ids: list[list[int] | None] = [None] * len(responses)
    for p, r in layout:
        full = _render_ids(tokenizer, prompts[p] + responses[r], add_generation_prompt=False)
        # The response starts where prompt and prompt+response diverge (as TRL does): some
        # templates render the prompt alone differently, or tokens merge across the boundary.
        n = _common_prefix(prompt_ids[p], full)
        prompt_len[p] = min(prompt_len[p], n)
        if response_ids[r] is None:
            response_ids[r] = full[n:]
    prompts_out = [ids[:n] for ids, n in zip(prompt_ids, prompt_len, strict=True)]
    return TokenizedItem(
        key=key, prompts=prompts_out, responses=[r or [] for r in response_ids], sequences=layout
    )


def truncate_item(item: TokenizedItem, max_length: int, response_budget: int, stats: DataStats) -> bool:
    """Fit every (prompt, response) sequence into max_length, in place; False if it must be skipped."""
    longest_prompt = max(len(p) for p in item.prompts)
    if longest_prompt >= max_length:
        stats.skipped_prompt_too_long += 1
        return False
    cut = False
    for i, resp in enumerate(item.responses):
        keep = max(max_length - longest_prompt, min(len(resp), response_budget))
        if len(resp) > keep:
            stats.response_tokens_cut += len(resp) - keep
            item.responses[i] = resp[:keep]
            cut = True
    room = max_length - max(len(r) for r in item.responses)
    for i, prompt in enumerate(item.prompts):
        if len(prompt) > room:
            stats.prompt_tokens_cut += len(prompt) - room
            item.prompts[i] = prompt[len(prompt) - room :]
            cut = True
    stats.truncated_items += int(cut)
    return True


def data_files(spec: str | Path) -> list[str]:
    """The training files a data setting names: one path, or several joined by commas (as LLaMA-Factory's
    `dataset`), read in that order."""
    paths = [p.strip() for p in str(spec).split(",") if p.strip()]
    if not paths:
        raise InputError("no training file given", field="data")
    return paths


def iter_parsed(
    path: str | Path, method: str, stats: DataStats, skip_bad_records: bool = False
) -> Iterator[tuple[str, list[Messages], list[Messages]]]:
    """(key, prompts, responses) of each usable record of every file `path` names; a bad one raises, or
    is counted when skipped.

    Keys index the reference-log-prob cache, so a repeated id is made unique with its line (and, in a
    file after the first, the file's place in the list: two files may repeat an id on the same line).
    """
    seen: set[str] = set()
    for i, file in enumerate(data_files(path)):
        where = "" if i == 0 else f"{i}:"
        for line, rec in iter_jsonl(file):
            stats.records += 1
            try:
                key, prompts, responses = parse_record(method, rec, file, line)
            except InputError as exc:
                if not skip_bad_records:
                    raise
                stats.skipped_bad_record += 1
                if len(stats.bad_records) < 20:
                    stats.bad_records.append(str(exc))
                continue
            if key in seen:
                key = f"{key}@{where}line{line}"
            seen.add(key)
            yield key, prompts, responses


def tokenize_rows(
    tokenizer: Any,
    method: str,
    rows: Iterable[tuple[str, list[Messages], list[Messages]]],
    max_length: int,
    response_budget: int,
    stats: DataStats,
) -> list[TokenizedItem]:
    """Tokenize (key, prompts, responses) rows and keep those that fit max_length; stats count the rest."""
    items: list[TokenizedItem] = []
    for key, prompts, responses in rows:
        item = tokenize_item(tokenizer, method, key, prompts, responses)
        if truncate_item(item, max_length, response_budget, stats):
            items.append(item)
    stats.kept = len(items)
    return items


def load_items(
    path: str | Path,
    method: str,
    tokenizer: Any,
    max_length: int,
    response_budget: int,
    skip_bad_records: bool = False,
) -> tuple[list[TokenizedItem], DataStats]:
    """Read, validate, tokenize and truncate a training file; bad records raise or are counted."""
    stats = DataStats()
    rows = iter_parsed(path, method, stats, skip_bad_records)
    items = tokenize_rows(tokenizer, method, rows, max_length, response_budget, stats)
    if not items:
        raise InputError(
            f"no usable training records ({stats.records} read, {stats.skipped_prompt_too_long} with a prompt "
            f"longer than max_length={max_length}, {stats.skipped_bad_record} bad)",
            path=str(path),
        )
    return items, stats
