"""Phrasing variants and prompt layouts: every variant states what the checker checks, in other words."""

from __future__ import annotations

import random
import re

import pytest

from followkit.constraints import registry
from followkit.constraints.ifeval import LANGUAGES
from followkit.constraints.phrasings import NUMBER_WORDS, RELATION_WORDS, VARIANTS, render_variant, variants

RELATION_KEYS = ("relation", "capital_relation", "let_relation")
SAMPLE_TASKS = ("Write a short story about a cat.", "写一篇关于春天的短文。")


def _composable_ids() -> list[str]:
    reg = registry.registry()
    return sorted(i for i in registry.ids() if reg[i].repairable or reg[i].__module__.endswith(".ifeval"))


def _values(raw: dict) -> list[object]:
    """Every scalar kwarg value (list items one by one), relations left out."""
    out: list[object] = []
    for key, v in raw.items():
        if key in RELATION_KEYS or v is None:
            continue
        out += v if isinstance(v, list) else [v]
    return out


def _mentions(text: str, value: object) -> bool:
    """True if the text states the value: a number in digits (or in words), a string verbatim."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        words = [re.escape(NUMBER_WORDS[value])] if 0 <= value < len(NUMBER_WORDS) else []
        return re.search(rf"(?<!\d)(?:{'|'.join([str(value), *words])})(?!\d)", text) is not None
    s = str(value)
    if s.isalnum():  # a short code such as 'en' must match as a word, not inside 'entire'
        return re.search(rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])", text) is not None
    return s.strip() in text


def test_every_composable_and_ifeval_id_has_variants():
    reg = registry.registry()
    ids = _composable_ids()
    assert len([i for i in ids if reg[i].__module__.endswith(".ifeval")]) == 25
    for cid in ids:
        assert len(variants(cid, "en")) >= 5, cid
        if "zh" in reg[cid].languages:
            assert len(variants(cid, "zh")) >= 2, cid
    assert set(VARIANTS) <= set(reg)


@pytest.mark.parametrize("cid", _composable_ids())
def test_variants_state_the_template_values_and_differ(cid):
    ct = registry.get(cid)
    for seed in range(12):
        rng = random.Random(seed)
        for lang in ct.languages:
            raw = {
                k: v for k, v in ct.sample_kwargs(rng, SAMPLE_TASKS[lang == "zh"]).items() if v is not None
            }
            kw = ct.parse_kwargs(raw)
            template = ct.render(kw, lang)
            stated = [v for v in _values(raw) if _mentions(template, v)]
            rel = next((raw[k] for k in RELATION_KEYS if k in raw), None)
            for n, fn in enumerate(variants(cid, lang)):
                text = fn(kw)
                where = f"{cid} {lang} variant {n} kwargs {raw}: {text!r}"
                assert text.strip() and text != template, where
                for v in stated:
                    assert _mentions(text, v), f"{where} lacks {v!r}"
                if rel is not None:
                    words = RELATION_WORDS[lang][rel]
                    others = {w for r, ws in RELATION_WORDS[lang].items() for w in ws} - set(words)
                    assert any(w in text for w in words), where
                    assert not any(re.search(rf"\b{w}\b" if lang == "en" else w, text) for w in others), where
                if cid == "language:response_language":
                    assert LANGUAGES[kw.language][lang == "zh"] in text, where


def test_render_variant_draws_template_and_variants_from_the_rng():
    ct = registry.get("length_constraints:number_words")
    kw = ct.parse_kwargs({"num_words": 120, "relation": "at least"})
    texts = {render_variant(ct, kw, "en", random.Random(s)) for s in range(200)}
    assert ct.render(kw, "en") in texts
    assert len(texts) == len(variants(ct.id, "en")) + 1
    assert render_variant(ct, kw, "en", random.Random(5)) == render_variant(ct, kw, "en", random.Random(5))
