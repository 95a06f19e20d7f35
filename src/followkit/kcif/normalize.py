"""Normalisation of responses and expected outputs before exact match.

Two readings. The default one is KCIF's own scorer (IBM/KCIF evaluation/compute_metrics.py):
`parse_response` picks the answer out of the response, `postprocess` cleans both sides, and
`same` compares them with and without whitespace. The strict one (`normalize`) is followkit's
earlier, stricter reading, reported beside it under `*_strict` metric names.
"""

from __future__ import annotations

import re
import string

RESPONSE_MARKERS = ("Response:", "response:")
"""KCIF: if one of these occurs, the answer is what follows its last occurrence."""

ANSWER_IS_TRIGGERS = ("answer is:", "answer is :")
ANSWER_IS_MARKERS = ("answer is:", "answer is :", "Answer is:", "Answer is :")
"""KCIF: only the lower-case forms trigger this step (so 'Answer is: X' alone does not), but once
triggered the text is cut after the last occurrence of any of the four forms."""

POSTPROCESS_DROPPED = "[]$'"
"""KCIF's postprocessing removes every one of these characters, wherever it is."""

_RESPONSE_SPLIT = re.compile("|".join(re.escape(m) for m in RESPONSE_MARKERS))
_ANSWER_IS_SPLIT = re.compile("|".join(re.escape(m) for m in ANSWER_IS_MARKERS))
_NO_WHITESPACE = str.maketrans("", "", string.whitespace)


def postprocess(text: str) -> str:
    """KCIF's cleaning: drop every '[', ']', '$' and "'", then one final '.', then strip.

    The period is removed before stripping, so 'Paris. ' keeps its period, as in KCIF.
    """
    s = str(text)
    for c in POSTPROCESS_DROPPED:
        s = s.replace(c, "")
    if s.endswith("."):
        s = s[:-1]
    return s.strip()


def parse_response(response: str) -> str:
    """KCIF's reading of a response, postprocessed: the text after the last 'Response:' if any;
    else after the last 'answer is:' (see ANSWER_IS_TRIGGERS); else the last line; else all of it.

    The last line is taken as it is: a response that ends with a newline has an empty last line.
    """
    if any(m in response for m in RESPONSE_MARKERS):
        picked = _RESPONSE_SPLIT.split(response)[-1].strip()
    elif any(m in response for m in ANSWER_IS_TRIGGERS):
        picked = _ANSWER_IS_SPLIT.split(response)[-1].strip()
    elif "\n" in response:
        picked = response.rsplit("\n", 1)[-1]
    else:
        picked = response
    return postprocess(picked)


def same(prediction: str, expected: str) -> bool:
    """KCIF's match of two postprocessed strings: equal, or equal once all whitespace is removed."""
    return prediction == expected or (
        prediction.translate(_NO_WHITESPACE) == expected.translate(_NO_WHITESPACE)
    )


def matches(response: str, expected: str) -> bool:
    """KCIF's exact match: the parsed response against the postprocessed expected output."""
    return same(parse_response(response), postprocess(expected))


# --- the strict reading -------------------------------------------------------------------------
_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">", "（": "）", "【": "】", "「": "」", "『": "』"}
_QUOTES = "\"'`“”‘’«»"
_FINAL_PERIODS = ".。"


def _wrapped(s: str) -> bool:
    """True if the first character opens a bracket that the last character closes: '(B)', not '(a) or (b)'."""
    if len(s) < 2 or _PAIRS.get(s[0]) != s[-1]:
        return False
    depth = 0
    for i, c in enumerate(s):
        if c == s[0]:
            depth += 1
        elif c == s[-1]:
            depth -= 1
            if depth == 0 and i < len(s) - 1:
                return False
    return True


def normalize(text: str) -> str:
    """The strict reading: strip whitespace, surrounding quotes and brackets, dollar signs and one final period, until stable.

    Applied to both the response and the expected output, so an expected output that itself ends
    in a period or carries a dollar sign still matches. Case and inner spacing are kept: several
    instructions are about case.
    """
    s = text.replace("$", "")
    while True:
        before = s
        s = s.strip()
        if _wrapped(s):
            s = s[1:-1]
        s = s.strip().strip(_QUOTES)
        if s.endswith(tuple(_FINAL_PERIODS)) and not s.endswith(".."):
            s = s[:-1]
        if s == before:
            return s


def matches_strict(response: str, expected: str) -> bool:
    """The strict reading's exact match: both sides through `normalize`."""
    return normalize(response) == normalize(expected)
