"""The verifier library: check_all, loose variants, the three input formats and their validation."""

from __future__ import annotations

import json

import pytest

from followkit.constraints import registry
from followkit.constraints.base import ConstraintType
from followkit.constraints.verify import Item, check_all, load_items, loose_variants, summarize, verify_items
from followkit.core.errors import ConstraintError, InputError


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_loose_variants_follow_the_reference_order_without_blanks_or_repeats():
    assert loose_variants("Sure:\n*a*\nbye") == ["Sure:\n*a*\nbye", "Sure:\na\nbye", "*a*\nbye", "Sure:\n*a*",
                                                 "*a*", "a\nbye", "Sure:\na", "a"]  # fmt: skip
    assert loose_variants("one line") == ["one line"]
    assert loose_variants("   ") == []


def test_check_all_strict_and_loose():
    cons = [("detectable_format:json_format", {}), ("punctuation:no_comma", {})]
    resp = 'Here is the JSON:\n{"a": 1}'
    assert check_all(cons, resp) == [False, True]
    assert check_all(cons, resp, mode="loose") == [True, True]
    # a blank response fails everything, even what its empty text would satisfy
    assert check_all(cons, "  \n ", mode="strict") == [False, False]
    assert check_all(cons, "  \n ", mode="loose") == [False, False]
    with pytest.raises(ValueError):
        check_all(cons, resp, mode="lenient")


def test_check_all_rejects_unknown_ids_with_a_suggestion():
    with pytest.raises(ConstraintError, match="did you mean keywords:existence"):
        check_all([("keywords:existance", {"keywords": ["a"]})], "a")


def test_ifeval_rows_in_google_and_hf_shapes(tmp_path):
    hf_kwargs = {k: None for k in ("num_highlights", "relation", "num_words", "num_placeholders", "keywords")}
    rows = [
        {"key": 1, "prompt": "p1", "instruction_id_list": ["length_constraints:number_words"],
         "kwargs": [{"num_words": 2, "relation": "at least"}], "response": "two words"},
        {"key": 2, "prompt": "p2", "instruction_id_list": ["length_constraints:number_words", "punctuation:no_comma"],
         "kwargs": [hf_kwargs | {"num_words": 5, "relation": "at least"}, hf_kwargs], "response": "a, b"},
    ]  # fmt: skip
    items = load_items(write(tmp_path / "r.jsonl", rows))
    res = verify_items(items, ("strict",))["strict"]
    assert res == [[True], [False, False]]
    s = summarize(items, res)
    assert s["prompt_level"]["correct"] == 1 and s["instruction_level"]["n"] == 3
    assert s["groups"]["length_constraints"]["n"] == 2 and s["ids"]["punctuation:no_comma"]["correct"] == 0


def test_followkit_rows_and_judged_constraints(tmp_path):
    rows = [
        {"id": "a", "prompt": "p", "response": "hello there",
         "constraints": [{"id": "keywords:existence", "kwargs": {"keywords": ["hello"]}, "text": "Say hello."},
                         {"id": "tone:friendly", "kwargs": {}, "text": "Be warm.", "dimension": "tone_and_style"}]},
    ]  # fmt: skip
    (item,) = load_items(write(tmp_path / "r.jsonl", rows))
    assert (
        item.ident_field == "id" and item.ids == ["keywords:existence"] and item.judged == ["tone:friendly"]
    )
    assert verify_items([item], ("loose",))["loose"] == [[True]]


def test_join_responses_to_prompts_by_text(tmp_path):
    prompts = write(tmp_path / "prompts.jsonl", [
        {"key": 7, "prompt": "A?", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
        {"key": 8, "prompt": "B?", "instruction_id_list": ["startend:quotation"], "kwargs": [{}]},
    ])  # fmt: skip
    responses = write(tmp_path / "resp.jsonl", [
        {"prompt": "B?", "response": '"quoted"'}, {"prompt": "A?", "response": "x, y"},
        {"prompt": "A?", "response": "later one wins"},
    ])  # fmt: skip
    items = load_items(responses, prompts=prompts)
    assert [i.ident for i in items] == [7, 8]  # the prompts file's order, as the reference
    assert verify_items(items, ("strict",))["strict"] == [[True], [True]]
    write(tmp_path / "resp.jsonl", [{"prompt": "A?", "response": "x"}])
    missing: list = []
    items = load_items(responses, prompts=prompts, missing=missing)
    assert [i.ident for i in items] == [7] and missing == [8]  # counted as missing, not an error


def test_integral_float_kwargs_are_integers_and_fractions_are_rejected(tmp_path):
    # IFBench_test.jsonl stores whole numbers as floats ("N": 13.0).
    rows = [{"key": 1, "prompt": "p", "response": "1 2 3", "instruction_id_list": ["count:numbers",
             "length_constraints:number_words"], "kwargs": [{"N": 3.0}, {"num_words": 2.0, "relation": "at least"}]}]  # fmt: skip
    (item,) = load_items(write(tmp_path / "f.jsonl", rows))
    assert item.checks[0][1].N == 3 and isinstance(item.checks[0][1].N, int)
    assert verify_items([item], ("strict",))["strict"] == [[True, True]]
    rows[0]["kwargs"][0]["N"] = 13.5
    with pytest.raises(
        ConstraintError,
        match=r"f.jsonl:1: field 'kwargs\[0\]': count:numbers: kwargs field 'N': expected a whole number, got 13.5$",
    ):
        load_items(write(tmp_path / "f.jsonl", rows))
    for bad in (True, "13", float("nan")):
        rows[0]["kwargs"][0]["N"] = bad
        with pytest.raises(ConstraintError, match="kwargs field 'N'"):
            load_items(write(tmp_path / "f.jsonl", rows))


@pytest.mark.parametrize(
    ("row", "pattern"),
    [
        ({"prompt": "p", "response": "r"}, r":1: field 'instruction_id_list': missing"),
        ({"key": 1, "prompt": "p", "instruction_id_list": "punctuation:no_comma", "kwargs": [{}], "response": "r"},
         r":1: field 'instruction_id_list': expected list"),
        ({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}],
          "response": "r"}, r":1: field 'kwargs': has 2 entries for 1"),
        ({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
         r":1: field 'response': missing"),
        ({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}], "response": 3},
         r":1: field 'response': expected str"),
        ({"id": "x", "prompt": "p", "response": "r", "constraints": [{"kwargs": {}}]},
         r":1: field 'constraints\[0\].id': missing"),
    ],
)  # fmt: skip
def test_bad_rows_name_file_line_and_field(tmp_path, row, pattern):
    path = write(tmp_path / "bad.jsonl", [row])
    with pytest.raises(InputError, match=pattern):
        load_items(path)


def test_bad_kwargs_and_ids_name_file_line_and_field(tmp_path):
    good = {
        "key": 1,
        "prompt": "p",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
        "response": "r",
    }
    bad_kw = {"key": 2, "prompt": "q", "instruction_id_list": ["punctuation:no_comma", "keywords:frequency"],
              "kwargs": [{}, {"keyword": "a", "relation": "at least"}], "response": "r"}  # fmt: skip
    path = write(tmp_path / "bad.jsonl", [good, bad_kw])
    with pytest.raises(
        ConstraintError, match=r"bad.jsonl:2: field 'kwargs\[1\]': keywords:frequency: .*'frequency'"
    ):
        load_items(path)
    bad_id = dict(good, instruction_id_list=["punctuation:no_coma"])
    with pytest.raises(
        ConstraintError, match=r"bad.jsonl:1: field 'instruction_id_list\[0\]'.*punctuation:no_comma"
    ):
        load_items(write(tmp_path / "bad.jsonl", [bad_id]))


class _Exploding(ConstraintType):
    """A checker that raises, to prove a failing worker is reported, not waited on."""

    id = "test:exploding"
    dimension = "output_format"

    def check(self, response, kw):
        if "boom" in response:
            raise RuntimeError("checker exploded")
        return True

    def render(self, kw, lang="en"):
        return "x"

    def sample_kwargs(self, rng, task=None):
        return {}


def test_parallel_workers_keep_order_and_report_a_failing_checker():
    ct = _Exploding()
    kw = ct.parse_kwargs({})
    nc = registry.get("punctuation:no_comma")
    items = [Item("key", i, "p", f"row {i}" + ("," if i % 3 else ""), ["punctuation:no_comma"],
                  [(nc, nc.parse_kwargs({}))]) for i in range(200)]  # fmt: skip
    serial = verify_items(items, ("strict", "loose"), workers=1)
    assert serial["strict"] == [[i % 3 == 0] for i in range(200)]
    assert verify_items(items, ("strict", "loose"), workers=2, chunk_size=7) == serial
    bad = items + [Item("key", 999, "p", "boom", ["test:exploding"], [(ct, kw)])]
    with pytest.raises(RuntimeError, match="checker exploded"):
        verify_items(bad, ("strict",), workers=2, chunk_size=7)


# --- the family registry (followkit.constraints.registry.FAMILIES) -----------------------------

FAMILY = """
from followkit.constraints.ifeval import CONSTRAINTS as _IFEVAL


class Mine(type(_IFEVAL[0])):
    id = "mine:first"


CONSTRAINTS = [Mine()]
"""


@pytest.fixture
def fresh_families(tmp_path, monkeypatch):
    """The constraint registry read anew with FOLLOWKIT_CONSTRAINTS naming a family in tmp_path."""
    (tmp_path / "fk_mine_family.py").write_text(FAMILY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FOLLOWKIT_CONSTRAINTS", "mine=fk_mine_family:CONSTRAINTS")
    monkeypatch.setattr(registry, "FAMILIES", registry.FAMILIES.fresh())
    monkeypatch.setattr(registry, "_REGISTRY", None)
    monkeypatch.setattr(registry, "_CORRECTED", None)
    return registry.FAMILIES


def test_a_plugin_family_from_the_environment_registers_its_ids(fresh_families):
    assert fresh_families.names() == ["ifeval", "ifbench", "extra", "mine"]
    assert registry.is_rule("mine:first") and registry.get("mine:first").id == "mine:first"
    assert registry.ids("mine:") == ["mine:first"] and "punctuation:no_comma" in registry.registry()
    assert registry.corrected_ids()  # the built-in families' CORRECTED still read
    with pytest.raises(ConstraintError, match="constraint family registry is frozen: cannot register 'late'"):
        fresh_families.register("late", "fk_mine_family:CONSTRAINTS")
    with pytest.raises(ConstraintError, match=r"unknown constraint family 'ifevl' \(did you mean ifeval\?\)"):
        fresh_families.get("ifevl")


def test_a_broken_plugin_family_is_one_line(monkeypatch):
    monkeypatch.setenv("FOLLOWKIT_CONSTRAINTS", "gone=fk_no_such_family_xyz:CONSTRAINTS")
    monkeypatch.setattr(registry, "FAMILIES", registry.FAMILIES.fresh())
    monkeypatch.setattr(registry, "_REGISTRY", None)
    monkeypatch.setattr(registry, "_CORRECTED", None)
    with pytest.raises(ConstraintError, match=r"^constraint family 'gone' is not available \(fk_no_such"):
        registry.registry()
    monkeypatch.setenv("FOLLOWKIT_CONSTRAINTS", "fk_old_style_module")  # the old bare-module form
    monkeypatch.setattr(registry, "FAMILIES", registry.FAMILIES.fresh())
    with pytest.raises(ConstraintError, match="entry 'fk_old_style_module' is not name=module:attr"):
        registry.registry()
