"""LLM judge for constraints no rule can decide, on the TRACE protocol (DESIGN section 5).

The judge model reads the query, the numbered constraints and the response, explains, then ends
with ``Fine Grained Score: [{"1": s1}, ...]`` and ``Constraints Overall Score: [[d]]`` (integers
0-10). An instruction counts as followed only when every constraint scores 10; a verdict that
cannot be parsed (after one retry that shows the judge its parse error) is recorded as such,
never as a pass.

The response under judgement is untrusted. It is wrapped in a tag derived from its own SHA-256
(``<response-1a2b...>``), so it cannot contain its own closing tag, and the judge is asked to put a
marker line (``verdict-...``, also a hash of the response, so a response cannot forge it) right
before its two verdict lines. The verdict is the first well-formed block (the fine-grained list with
one score per constraint, then the overall line) after the judge's last marker line that has one
(verdict_segments): score lines the judge quotes from the response after its verdict, or in its
explanation before the marker, cannot steer it, and a judge that echoes the whole prompt (whose
marker line is followed by the answer format, not by scores) is still read by its own verdict. When the judge leaves the marker out, echoes of the response are removed (tagged
blocks, verbatim copies, and every score-shaped line of the response wherever it is quoted) and the
last block of what remains is read.

Constraints keep the numbers the query gives them (``JudgeRequest.numbers``, or the number a
constraint sentence starts with), so that "constraint 5" means the same in the query, the
constraint list and the judge's scores; scores keyed by those numbers are read by key.

The helpers ``untrusted_tag``, ``verdict_segments`` and ``remove_echoes`` are shared with the
pairwise win-rate judge (followkit.evaluate.winrate).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from followkit.backends.base import Backend, Chat, Progress, SamplingParams
from followkit.core.errors import InputError
from followkit.core.reasoning import DEFAULT_MARKERS, Setting, answer_text
from followkit.core.stats import Metric, mean_metric

PLACEHOLDERS = ("query", "constraints", "response", "tag", "n", "verdict", "keys")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.、:：)]|[-*•·])\s*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

FRACTIONAL_SCORES_FLOOR = True
"""Policy: a fractional score (9.5) is floored, so a judge's hedge can never round up into a pass."""

JUDGE_MAX_TOKENS = 1024
"""Default token budget of one judgement: room for a short explanation per constraint."""


@dataclass(frozen=True)
class JudgeRequest:
    """One thing to judge: the user query, its constraint sentences, the response (and the query's numbers)."""

    query: str
    constraints: list[str]
    response: str
    numbers: list[int] | None = (
        None  # the query's numbers of these constraints (default: see constraint_numbers)
    )


@dataclass
class JudgeVerdict:
    """Scores per constraint and overall (0-10), followed (all 10), the parse error, the raw text."""

    scores: list[int | None]
    overall: int | None
    followed: bool | None
    error: str | None
    raw: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ParseError(ValueError):
    """The judge's output does not hold a complete verdict."""


# --- templates ---------------------------------------------------------------------------------


def language_of(text: str) -> str:
    """'zh' when the text is mostly Chinese (by CJK share of its letters), else 'en'."""
    cjk = len(_CJK.findall(text))
    letters = sum(ch.isalpha() for ch in text)
    return "zh" if letters and cjk / letters >= 0.3 else "en"


def load_template(template: str | None, lang: str = "en", kind: str = "judge") -> tuple[str, str]:
    """(name, text) of a prompt template: 'en', 'zh' (packaged), a file path, or None (by lang)."""
    name = template or lang
    if name in ("en", "zh"):
        text = resources.files("followkit").joinpath("prompts", f"{kind}_{name}.txt").read_text("utf-8")
        return f"{kind}_{name}", text
    path = Path(name)
    if not path.is_file():
        raise InputError("no such judge template file (use en, zh or a path)", path=str(path))
    text = path.read_text(encoding="utf-8")
    missing = [p for p in ("query", "constraints", "response", "tag") if "{{" + p + "}}" not in text]
    if missing:
        raise InputError(
            f"judge template lacks the placeholder(s) {', '.join('{{' + m + '}}' for m in missing)}",
            path=str(path),
        )
    return str(path), text


def fill(template: str, values: dict[str, str]) -> str:
    """Replace {{name}} placeholders in one pass (inserted text is never re-scanned)."""

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise InputError(f"unknown placeholder {{{{{key}}}}} in a judge template")
        return values[key]

    return _PLACEHOLDER.sub(sub, template)


def untrusted_tag(kind: str, *texts: str) -> str:
    """A delimiter or marker name holding a hash of the untrusted texts it encloses, which they cannot forge.

    Derived rather than random so that a rerun sends the same prompt and the request cache answers
    it; a text cannot contain a hash of itself, so it can neither close its block nor fake a marker.
    """
    return f"{kind}-" + hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()[:24]


def response_tag(response: str) -> str:
    """The delimiter name for a response: it holds a hash of the response, so the response cannot close it."""
    return untrusted_tag("response", response)


def verdict_marker(response: str) -> str:
    """The line the judge writes right before its verdict; a hash of the response, so the response cannot hold it."""
    return untrusted_tag("verdict", "verdict", response)


_LEADING_NUMBER = re.compile(r"^\s*(\d+)\s*[.、:：)]")


def strip_numbering(constraint: str) -> str:
    """A constraint sentence without a leading '3.' / '3、' / '-' (the prompt numbers them)."""
    return _NUMBERING.sub("", constraint.strip(), count=1)


def constraint_numbers(req: JudgeRequest) -> list[int]:
    """The numbers the query gives the constraints: req.numbers, else the sentences' own, else 1..n."""
    n = len(req.constraints)
    if req.numbers is not None:
        if len(req.numbers) != n or len(set(req.numbers)) != n:
            raise InputError(f"a judge request needs {n} distinct constraint numbers, got {req.numbers}")
        return list(req.numbers)
    own = [_LEADING_NUMBER.match(c) for c in req.constraints]
    if all(own):
        found = [int(m.group(1)) for m in own]  # type: ignore[union-attr]
        if len(set(found)) == n:
            return found
    return list(range(1, n + 1))


def render_judge_prompt(req: JudgeRequest, template_text: str) -> str:
    """The judge's user message for one request."""
    numbers = constraint_numbers(req)
    numbered = "\n".join(f"{k}. {strip_numbering(c)}" for k, c in zip(numbers, req.constraints, strict=True))
    return fill(
        template_text,
        {
            "query": req.query.strip(),
            "constraints": numbered,
            "response": req.response,
            "tag": response_tag(req.response),
            "n": str(len(req.constraints)),
            "verdict": verdict_marker(req.response),
            "keys": "[" + ", ".join(f'{{"{k}": score}}' for k in numbers) + "]",
        },
    )


# --- parsing -----------------------------------------------------------------------------------

_OVERALL = re.compile(
    r"Constraints\s*Overall\s*Score\s*\**\s*[:：]?\s*\**\s*\[\[\s*(-?\d+(?:\.\d+)?)\s*\]\]", re.I
)
_OVERALL_LOOSE = re.compile(r"Overall\s*Score\s*\**\s*[:：]?\s*\**\s*[\[【(]*\s*(-?\d+(?:\.\d+)?)", re.I)
_FINE = re.compile(r"Fine\s*[-_ ]?\s*Grained\s*Scores?\s*[:：]?", re.I)
_FULLWIDTH = str.maketrans(
    {"“": '"', "”": '"', "‘": "'", "’": "'", "：": ":", "，": ",", "【": "[", "】": "]", "｛": "{", "｝": "}"}
)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_VALUE_BEFORE_BRACE = re.compile(r"[:：]\s*[\"']?(-?\d+(?:\.\d+)?)[\"']?\s*[}｝]")
_VALUE_BEFORE_SEP = re.compile(r"[:：]\s*[\"']?(-?\d+(?:\.\d+)?)[\"']?\s*[,，}\]｝】]")


_TRACE_SHAPED = re.compile(_FINE.pattern + "|" + _OVERALL_LOOSE.pattern, re.I)


def remove_echoes(text: str, texts: list[str], shaped: re.Pattern[str]) -> str:
    """Text without verdict-shaped echoes of untrusted texts: verbatim copies and quoted verdict-shaped lines."""
    for body in texts:
        body = body.strip()
        if len(body) >= 8 and shaped.search(body):
            text = text.replace(body, " ")
        for line in body.splitlines():
            if shaped.search(line):  # quoted anywhere, with any spacing
                pattern = r"\s+".join(re.escape(tok) for tok in line.split())
                text = re.sub(pattern, " ", text)
    return text


def verdict_segments(
    raw: str, texts: list[str], tags: list[str], shaped: re.Pattern[str], marker: str | None
) -> list[tuple[str, bool]]:
    """Where a judge's own verdict may sit, most likely first: [(text, whether it follows a marker)].

    Tag-delimited echoes of the untrusted texts are dropped first. When the output holds the marker,
    the text after each marker line up to the next one, the last first: a judge that echoes the
    whole prompt (marker and verdict menu included) before or after its own verdict leaves an echoed
    marker whose tail holds no exact verdict, so the reader moves on to the judge's own marker (read
    the FIRST exact verdict after it: anything later is quoted). Without a marker, the text with
    every verdict-shaped echo removed (read the LAST verdict: a judge may reconsider).
    """
    text = raw
    for tag in tags:
        t = re.escape(tag)
        text = re.sub(rf"<{t}>.*?(</{t}>|$)", " ", text, flags=re.S)
    if marker and marker in text:
        starts = [m.end() for m in re.finditer(re.escape(marker), text)]
        ends = [m.start() for m in re.finditer(re.escape(marker), text)][1:] + [len(text)]
        return [(text[a:b], True) for a, b in reversed(list(zip(starts, ends, strict=True)))]
    return [(remove_echoes(text, texts, shaped), False)]


def _score(value: Any) -> int:
    if isinstance(value, bool):
        raise ParseError(f"score {value!r} is not a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ParseError(f"score {value!r} is not a number") from None
    if not isinstance(value, int | float) or math.isnan(value):
        raise ParseError(f"score {value!r} is not a number")
    if not 0 <= value <= 10:
        raise ParseError(f"score {value} is outside 0-10")
    return math.floor(value) if FRACTIONAL_SCORES_FLOOR else round(value)


def _bracket_span(text: str, start: int) -> str:
    """The balanced [...] (or {...}) starting at the first opening bracket at or after start."""
    m = re.compile(r"[\[{【｛]").search(text, start)
    if m is None:
        raise ParseError("no list after 'Fine Grained Score:'")
    depth, closer, escaped = 0, "", False
    for i in range(m.start(), len(text)):
        ch = text[i]
        if closer:  # inside a quoted key: brackets there are text
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == closer:
                closer = ""
        elif ch in '"“':
            closer = '"' if ch == '"' else "”"
        elif ch in "[{【｛":
            depth += 1
        elif ch in "]}】｝":
            depth -= 1
            if depth == 0:
                return text[m.start() : i + 1]
    return text[m.start() :]  # unbalanced: let the fallbacks try


def _values(obj: Any) -> list[tuple[Any, Any]]:
    """(key, score) pairs from [{"1": s}, ...], {"1": s, ...} or [s, ...] (key None), in order."""
    if isinstance(obj, dict):
        return list(obj.items())
    if isinstance(obj, list | tuple):
        out: list[tuple[Any, Any]] = []
        for el in obj:
            if isinstance(el, dict):
                if len(el) != 1:
                    raise ParseError(f"entry {el!r} should hold exactly one constraint")
                out.extend(el.items())
            else:
                out.append((None, el))
        return out
    raise ParseError(f"expected a list of scores, got {type(obj).__name__}")


def _parse_list(segment: str) -> list[tuple[Any, Any]]:
    try:
        return _values(json.loads(segment))
    except (json.JSONDecodeError, ParseError):
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", segment.translate(_FULLWIDTH))
    try:
        return _values(json.loads(repaired))
    except (json.JSONDecodeError, ParseError):
        pass
    try:
        pyish = re.sub(
            r"\bnull\b", "None", re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", repaired))
        )
        return _values(ast.literal_eval(pyish))
    except (ValueError, SyntaxError, ParseError, MemoryError, RecursionError, TypeError):
        pass
    found = _VALUE_BEFORE_BRACE.findall(segment) or _VALUE_BEFORE_SEP.findall(segment)
    if not found:
        raise ParseError("the 'Fine Grained Score' list holds no scores")
    return [(None, v) for v in found]


def _in_order(pairs: list[tuple[Any, Any]], numbers: list[int]) -> list[Any]:
    """Scores in constraint order: by key when the keys are exactly the constraints' numbers, else by position."""
    if len(pairs) != len(numbers):
        raise ParseError(f"expected {len(numbers)} scores, found {len(pairs)}")
    keys = [str(k).strip() for k, _ in pairs]
    wanted = [str(k) for k in numbers]
    if sorted(keys) == sorted(wanted) and len(set(keys)) == len(keys):
        by_key = dict(zip(keys, (v for _, v in pairs), strict=True))
        return [by_key[k] for k in wanted]
    return [v for _, v in pairs]


class _Partial(ParseError):
    """A parse error that keeps whatever scores were read."""

    def __init__(self, msg: str, scores: list[int | None], overall: int | None):
        super().__init__(msg)
        self.scores, self.overall = scores, overall


def _block_at(text: str, fine: re.Match[str], end: int, numbers: list[int]) -> tuple[list[int], int]:
    """The verdict block starting at a 'Fine Grained Score' match: its scores, then the overall line before `end`."""
    segment = text[fine.end() : end]
    overall = _OVERALL.search(segment) or _OVERALL_LOOSE.search(segment)
    stop = overall.start() if overall else len(segment)
    scores = [_score(v) for v in _in_order(_parse_list(_bracket_span(segment[:stop], 0)), numbers)]
    if overall is None:
        raise _Partial("no 'Constraints Overall Score: [[d]]' line", scores, None)
    return scores, _score(overall.group(1))


def parse_verdict(
    raw: str,
    n_constraints: int,
    response: str = "",
    numbers: list[int] | None = None,
    marker: str | None = None,
) -> tuple[list[int | None], int | None]:
    """(scores, overall) of the judge's own verdict block; ParseError when it is missing or malformed.

    See the module docstring: the first well-formed block after the judge's marker, or, without
    a marker, the last one once the response's echoes are removed.
    """
    numbers = numbers or list(range(1, n_constraints + 1))
    if len(numbers) != n_constraints:
        raise ValueError("numbers must give one number per constraint")
    first: _Partial | None = None
    for text, after_marker in verdict_segments(
        raw, [response], [response_tag(response)], _TRACE_SHAPED, marker
    ):
        try:
            return _block_in(text, after_marker, n_constraints, numbers)
        except _Partial as exc:
            first = first or exc
    assert first is not None  # verdict_segments returns at least one segment
    raise first


def _block_in(
    text: str, after_marker: bool, n_constraints: int, numbers: list[int]
) -> tuple[list[int | None], int | None]:
    """The verdict block of one segment of the judge's output (see parse_verdict); _Partial if none."""
    fines = list(_FINE.finditer(text))
    order = range(len(fines)) if after_marker else range(len(fines) - 1, -1, -1)
    problems: list[str] = []
    partial_scores: list[int | None] = [None] * n_constraints
    for k in order:
        end = fines[k + 1].start() if k + 1 < len(fines) else len(text)
        try:
            return _block_at(text, fines[k], end, numbers)
        except _Partial as exc:
            partial_scores = partial_scores if any(s is not None for s in partial_scores) else exc.scores
            problems.append(str(exc))
        except ParseError as exc:
            problems.append(str(exc))
    overall_hits = list(_OVERALL.finditer(text)) or list(_OVERALL_LOOSE.finditer(text))
    overall: int | None = None
    if overall_hits:
        try:
            overall = _score(overall_hits[0 if after_marker else -1].group(1))
        except ParseError as exc:
            problems.append(f"overall {exc}")
    elif not problems:
        problems.append("no 'Constraints Overall Score: [[d]]' line")
    if not fines:
        problems.append("no 'Fine Grained Score: [...]' line")
    raise _Partial("; ".join(dict.fromkeys(problems)), partial_scores, overall)


def _verdict(raw: str, req: JudgeRequest, marker: str | None) -> JudgeVerdict:
    n, response = len(req.constraints), req.response
    try:
        scores, overall = parse_verdict(raw, n, response, constraint_numbers(req), marker)
    except _Partial as exc:
        return JudgeVerdict(exc.scores, exc.overall, None, str(exc), raw)
    return JudgeVerdict(scores, overall, all(s == 10 for s in scores), None, raw)


# --- judging -----------------------------------------------------------------------------------


def judge(
    backend: Backend,
    requests: list[JudgeRequest],
    *,
    template: str | None = None,
    retries: int = 1,
    max_tokens: int = JUDGE_MAX_TOKENS,
    progress: Progress | None = None,
    reasoning: Setting = "strip",
    reasoning_markers: tuple[str, str] = DEFAULT_MARKERS,
) -> list[JudgeVerdict]:
    """Judge each request at temperature 0; unparsable verdicts get followed=None and an error.

    A reasoning trace is split off the response under judgement (the judge sees the answer only)
    and off the judge's own output (its verdict is read after its trace); `reasoning="keep"` does neither.
    """
    requests = [
        dataclasses.replace(r, response=answer_text(r.response, reasoning, reasoning_markers))
        for r in requests
    ]

    def said(text: str) -> str:
        return answer_text(text, reasoning, reasoning_markers)

    params = SamplingParams(n=1, temperature=0.0, max_tokens=max_tokens, seed=0)
    chats: list[Chat] = []
    langs: list[str] = []
    markers: list[str | None] = []  # None: the template asks for no marker line
    texts: dict[str, str] = {}  # language -> template text, read once
    for req in requests:
        if not req.constraints:
            raise InputError("a judge request needs at least one constraint")
        lang = language_of(req.query + "\n".join(req.constraints))
        if lang not in texts:
            texts[lang] = load_template(template, lang)[1]
        chats.append([{"role": "user", "content": render_judge_prompt(req, texts[lang])}])
        langs.append(lang)
        markers.append(verdict_marker(req.response) if "{{verdict}}" in texts[lang] else None)

    verdicts: list[JudgeVerdict] = []
    for i, (req, comp) in enumerate(zip(requests, backend.complete(chats, params, progress), strict=True)):
        if not comp.ok:
            verdicts.append(
                JudgeVerdict([None] * len(req.constraints), None, None, f"judge failed: {comp.error}", "")
            )
        else:
            verdicts.append(_verdict(said(comp.texts[0]), req, markers[i]))

    for _ in range(retries):
        todo = [i for i, v in enumerate(verdicts) if v.followed is None and v.raw]
        if not todo:
            break
        retry_chats = []
        for i in todo:
            _, retry_text = load_template(None, langs[i], kind="judge_retry")
            numbers = constraint_numbers(requests[i])
            ask = fill(
                retry_text,
                {
                    "error": verdicts[i].error or "",
                    "n": str(len(numbers)),
                    "verdict": verdict_marker(requests[i].response),
                    "keys": "[" + ", ".join(f'{{"{k}": score}}' for k in numbers) + "]",
                },
            )
            retry_chats.append(
                chats[i]
                + [{"role": "assistant", "content": verdicts[i].raw}, {"role": "user", "content": ask}]
            )
        for i, comp in zip(todo, backend.complete(retry_chats, params), strict=True):
            if not comp.ok:
                continue  # keep the first error; the judge's first output is the better record
            again = _verdict(said(comp.texts[0]), requests[i], verdict_marker(requests[i].response))
            first = verdicts[i]
            if again.followed is not None:
                again.raw = first.raw + "\n\n--- retry ---\n" + again.raw
                verdicts[i] = again
            else:
                first.error = f"{first.error}; after retry: {again.error}"
                first.raw = first.raw + "\n\n--- retry ---\n" + again.raw
    return verdicts


# --- metrics -----------------------------------------------------------------------------------


def if_metrics(followed: list[bool | None], n_constraints: list[int]) -> dict[str, Metric]:
    """IF (all), IF-S (single-constraint items) and IF-M (multi-constraint) accuracy; unparsable counts as not followed."""
    if len(followed) != len(n_constraints):
        raise ValueError("followed and n_constraints differ in length")
    ok = [1.0 if f else 0.0 for f in followed]
    return {
        "if_acc": mean_metric(ok),
        "if_s": mean_metric([v for v, k in zip(ok, n_constraints, strict=True) if k == 1]),
        "if_m": mean_metric([v for v, k in zip(ok, n_constraints, strict=True) if k > 1]),
    }
