"""Every registered checker, fuzzed: it never raises and always returns a bool (STYLE 6).

Covers all families (IFEval, IFBench, the project's own) by iterating the registry, with kwargs
from each id's own `sample_kwargs`. Also: sample -> parse -> render round-trips for every id.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followkit.constraints import registry

IDS = registry.ids()

CONTROL = "".join(chr(c) for c in range(0, 32)) + "\x7f\x85\u2028\u2029\ufeff\u200b\u202e"
_CHUNK = (
    '# Title\n\n<<A title>> Dr. Smith said: "WE CAN\'T STOP NOW!" *highlight* **bold** [name] '
    "Section 1\n* bullet one\n- bullet two\n***\nP.S. done, thanks. 你好，世界。这是一个句子！还有吗？ "
    '{"key": [1, 2, 3]} ****** 1. first\n2. second\n| a | b |\n|---|---|\n'
    + CONTROL
    + " café naïve ΣΟΦΙΑ İstanbul ß 😀 \t\r\n\n"
)
MEGABYTE = (_CHUNK * (1_000_000 // len(_CHUNK) + 1))[:1_000_000]
FIXED_TEXTS = {"empty": "", "blank": " \n\t ", "control": CONTROL * 3, "megabyte": MEGABYTE}


def _kwargs(cid: str, seed: int):
    ct = registry.get(cid)
    return ct, ct.parse_kwargs(ct.sample_kwargs(random.Random(seed)))


def test_registry_is_not_empty_and_holds_the_ifeval_ids():
    assert len(IDS) >= 25 and "keywords:letter_frequency" in IDS


@pytest.mark.parametrize("cid", IDS)
@pytest.mark.parametrize("name", sorted(FIXED_TEXTS))
def test_check_on_fixed_hard_texts_returns_a_bool(cid, name):
    for seed in range(1 if name == "megabyte" else 3):
        ct, kw = _kwargs(cid, seed)
        assert type(ct.check(FIXED_TEXTS[name], kw)) is bool


@pytest.mark.parametrize("cid", IDS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(), seed=st.integers(0, 50))
def test_check_on_arbitrary_unicode_returns_a_bool(cid, text, seed):
    ct, kw = _kwargs(cid, seed)
    assert type(ct.check(text, kw)) is bool


@pytest.mark.parametrize("cid", IDS)
@settings(max_examples=8, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(list(_CHUNK.split(" ")) + ["\n", "\n\n", "***", "*", "<<", ">>"]), max_size=40
    )
)
def test_check_on_structured_fragments_returns_a_bool(cid, parts):
    ct, kw = _kwargs(cid, 3)
    assert type(ct.check(" ".join(parts), kw)) is bool


@pytest.mark.parametrize("cid", IDS)
def test_sample_parse_render_round_trip(cid):
    ct = registry.get(cid)
    for seed in range(5):
        raw = ct.sample_kwargs(random.Random(seed), "Write a short story about a lighthouse.")
        assert raw == ct.sample_kwargs(random.Random(seed), "Write a short story about a lighthouse.")
        kw = ct.parse_kwargs(json.loads(json.dumps(raw)))  # survives a JSONL round trip
        assert ct.parse_kwargs(kw.model_dump()) == kw
        en, zh = ct.render(kw, "en"), ct.render(kw, "zh")
        assert isinstance(en, str) and isinstance(zh, str) and en.strip() and zh.strip() and en != zh
        new = ct.perturb(kw, random.Random(seed))
        if new is not None:
            assert ct.parse_kwargs(json.loads(json.dumps(new))) != kw
