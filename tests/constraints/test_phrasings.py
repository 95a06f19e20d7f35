"""Phrasing variants and prompt layouts: every variant states what the checker checks, in other words."""

from __future__ import annotations

import difflib
import json
import random
import re

import pytest

from followkit.cli import main
from followkit.constraints import registry
from followkit.constraints.ifeval import LANGUAGES
from followkit.constraints.phrasings import NUMBER_WORDS, RELATION_WORDS, VARIANTS, render_variant, variants
from followkit.core.records import render_prompt, render_prompt_layout
from followkit.synth.compose import Composer, compose
from followkit.synth.seeds import BUILTIN_WIDE, load_seeds


def dump(insts):
    return [i.model_dump(mode="json") for i in insts]


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


# --------------------------------------------------------------------------- layouts


def test_list_layout_is_render_prompt_and_others_keep_task_constraints_and_input():
    texts = ["Use fewer than 5 sentences.", "Do not use any commas."]
    for inp in (None, "The quick brown fox."):
        assert render_prompt_layout("Describe a cat.", texts, inp, "en", "list") == render_prompt(
            "Describe a cat.", texts, inp
        )
        for layout in ("prose", "before", "inline"):
            for seed in range(5):
                p = render_prompt_layout("Describe a cat.", texts, inp, "en", layout, random.Random(seed))
                assert "Describe a cat." in p and all(t in p for t in texts)
                assert not re.search(r"^\s*\d+\. ", p, re.MULTILINE)  # no numbering
                if inp:
                    head, body = p.rsplit("\n\n", 1)
                    assert body.split("\n", 1)[1] == inp + "\n" and inp not in head  # delimited, last
                at_task, at_rule = p.index("Describe a cat."), p.index(texts[0])
                assert (at_rule < at_task) == (layout == "before")
                # inline: the task and the constraints share one paragraph
                assert ("Describe a cat. " + texts[0] in p) == (layout == "inline")
    with pytest.raises(ValueError, match="unknown layout"):
        render_prompt_layout("x", texts, None, "en", "sideways")


def test_options_keep_ids_kwargs_and_seed_task_of_every_index():
    plain = Composer(load_seeds(), seed=9)
    varied = Composer(load_seeds(), seed=9, phrasing="varied", placement="mixed")
    for i in range(150):
        a, b = plain.compose_record(i), varied.compose_record(i)
        assert (a["seed_task"], a["task"], a["input"]) == (b["seed_task"], b["task"], b["input"])
        assert [(c["id"], c["kwargs"]) for c in a["constraints"]] == [
            (c["id"], c["kwargs"]) for c in b["constraints"]
        ]
        assert b == varied.compose_record(i)  # still a pure function of (seed, index)
    # The defaults, spelled out, are today's output.
    assert dump(compose(40, seed=3, phrasing="template", placement="list")) == dump(compose(40, seed=3))


def test_cli_varied_mixed_repairable_records_check_like_the_templates(tmp_path):
    out = tmp_path / "run"
    args = ["synth", "compose", "--phrasing", "varied", "--placement", "mixed", "--repairable"]
    assert main([*args, "--n", "50", "--seed", "4", "--out", str(out)]) == 0
    recs = [json.loads(x) for x in (out / "instructions.jsonl").read_text(encoding="utf-8").splitlines()]
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["config"]["phrasing"] == "varied" and man["config"]["placement"] == "mixed"
    template = Composer(load_seeds(), seed=4, repairable=True)
    reg = registry.registry()
    rng = random.Random(0)
    for i, rec in enumerate(recs):
        base = template.compose_record(i)
        assert [(c["id"], c["kwargs"]) for c in rec["constraints"]] == [
            (c["id"], c["kwargs"]) for c in base["constraints"]
        ]
        assert rec["layout"] in ("list", "prose", "before", "inline")
        for c, t in zip(rec["constraints"], base["constraints"], strict=True):
            ct = reg[c["id"]]
            assert c["text"] in rec["prompt"]
            kw, kw_t = ct.parse_kwargs(c["kwargs"]), ct.parse_kwargs(t["kwargs"])
            # Responses built to follow (by the rule repair) and the bare draft: same verdicts.
            draft = "Cats are small, curious animals. They sleep a lot.\n\nThey also play."
            fixed = ct.repair(draft, kw, rng)
            for resp in (draft, fixed):
                if resp is not None:
                    assert ct.check(resp, kw) == ct.check(resp, kw_t)
            assert fixed is None or ct.check(fixed, kw)


def test_200_mixed_instructions_show_layouts_and_wordings():
    recs = [r.model_dump(mode="json") for r in compose(200, seed=1, phrasing="varied", placement="mixed")]
    layouts = {r["layout"] for r in recs}
    assert len(layouts) >= 3
    reg = registry.registry()
    by_id: dict[str, set[str]] = {}
    templated = 0
    total = 0
    for r in recs:
        for c in r["constraints"]:
            ct = reg[c["id"]]
            if c["id"] not in VARIANTS:
                continue  # ids without variants (most IFBench ids) keep their template
            by_id.setdefault(c["id"], set()).add(c["text"])
            total += 1
            templated += c["text"] == ct.render(ct.parse_kwargs(c["kwargs"]), r["language"])
    common = [cid for cid, texts in by_id.items() if len(texts) >= 3]
    assert len(common) >= 20
    assert 0.05 < templated / total < 0.35  # about 1 in 6 keeps the template


# --------------------------------------------------------------------------- seeds


def test_builtin_wide_adds_english_tasks_and_builtin_is_unchanged():
    builtin = load_seeds("builtin")
    wide = load_seeds(BUILTIN_WIDE)
    assert load_seeds() == builtin and not any(s.id.startswith("wide-") for s in builtin)
    assert wide[: len(builtin)] == builtin
    new = wide[len(builtin) :]
    assert len(new) >= 80 and {s.language for s in new} == {"en"}
    assert any(s.input for s in new)
    assert len({s.task for s in wide}) == len(wide)
    assert load_seeds(BUILTIN_WIDE, ("zh",)) == load_seeds("builtin", ("zh",))


def _near(a: str, b: str) -> bool:
    a, b = a.lower().strip(), b.lower().strip()
    m = difflib.SequenceMatcher(None, a, b)
    return a == b or (m.real_quick_ratio() > 0.8 and m.quick_ratio() > 0.8 and m.ratio() > 0.8)


def test_wide_seeds_are_far_from_heldout_seeds_and_ifeval_prompts(shared):
    new = load_seeds(BUILTIN_WIDE)[len(load_seeds("builtin")) :]
    held = [s.task for s in load_seeds("heldout")]
    old = [s.task for s in load_seeds("builtin")]
    for s in new:
        assert not any(_near(s.task, h) for h in held), s.id
        assert not any(_near(s.task, t) for t in old), s.id  # new tasks, not reworded old ones
    prompts = [json.loads(x) for x in (shared / "ifeval" / "input_data.jsonl").read_text().splitlines() if x]
    for s in new:
        # Only ids go in the message: the benchmark's prompts are not printed.
        close = [p["key"] for p in prompts if _near(s.task, p["prompt"][: len(s.task) + 20])]
        assert not close, (s.id, close)
