"""`followkit verify` and `followkit constraints` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from followkit.cli import main
from tests.helpers.paths import ROOT

DEMO = ROOT / "src" / "followkit" / "data" / "examples" / "ifeval_demo.jsonl"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_verify_reference_data_writes_verdicts_and_results(shared, tmp_path, capsys):
    src = shared / "ifeval"
    rc, out, _ = run(capsys, "verify", str(src / "input_response_data_gpt4_20231107_145030.jsonl"),
                     "--prompts", str(src / "input_data.jsonl"), "--out", str(tmp_path), "--workers", "2")  # fmt: skip
    assert rc == 0
    assert "prompt-level" in out and "instruction-level" in out
    for mode in ("strict", "loose"):
        rows = [json.loads(line) for line in (tmp_path / f"verdicts_{mode}.jsonl").open(encoding="utf-8")]
        assert len(rows) == 541
        assert set(rows[0]) == {"key", "prompt", "response", "instruction_id_list", "follow_instruction_list",
                                "follow_all_instructions"}  # fmt: skip
        assert rows[0]["key"] == 1000
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["results"]
    for mode, (p_ok, i_ok) in {"strict": (416, 697), "loose": (429, 712)}.items():
        assert abs(results[mode]["prompt_level"]["correct"] - p_ok) <= 2
        assert abs(results[mode]["instruction_level"]["correct"] - i_ok) <= 2
        assert results[mode]["instruction_level"]["n"] == 834
        assert sum(g["n"] for g in results[mode]["groups"].values()) == 834
        assert results[mode]["ids"]["punctuation:no_comma"]["n"] == 66


def test_verify_demo_file_single_mode(tmp_path, capsys):
    rc, out, _ = run(capsys, "verify", str(DEMO), "--mode", "strict", "--out", str(tmp_path))
    assert rc == 0
    assert (tmp_path / "verdicts_strict.jsonl").exists() and not (tmp_path / "verdicts_loose.jsonl").exists()
    rows = [json.loads(line) for line in (tmp_path / "verdicts_strict.jsonl").open(encoding="utf-8")]
    by = {r.get("key", r.get("id")): r["follow_instruction_list"] for r in rows}
    assert by[6] == [False]  # JSON after a chatty first line: fails strict ...
    rc, _, _ = run(capsys, "verify", str(DEMO), "--mode", "loose", "--out", str(tmp_path))
    loose = [json.loads(line) for line in (tmp_path / "verdicts_loose.jsonl").open(encoding="utf-8")]
    assert {r.get("key", r.get("id")): r["follow_instruction_list"] for r in loose}[6] == [
        True
    ]  # ... passes loose


BAD_ROWS = {
    "malformed": ('{"key": 1, "prompt": "p", ', r"bad.jsonl:2: malformed JSON"),
    "unknown id": (json.dumps({"key": 2, "prompt": "p", "instruction_id_list": ["detectable_format:titel"],
                               "kwargs": [{}], "response": "r"}),
                   r"bad.jsonl:2: field 'instruction_id_list\[0\]': unknown instruction id "
                   r"'detectable_format:titel'; did you mean detectable_format:title"),
    "missing kwarg": (json.dumps({"key": 2, "prompt": "p", "instruction_id_list": ["length_constraints:number_words"],
                                  "kwargs": [{"relation": "at least"}], "response": "r"}),
                      r"bad.jsonl:2: field 'kwargs\[0\]': .*'num_words': Field required"),
    "mistyped kwarg": (json.dumps({"key": 2, "prompt": "p", "instruction_id_list": ["length_constraints:number_words"],
                                   "kwargs": [{"num_words": "many", "relation": "at least"}], "response": "r"}),
                       r"bad.jsonl:2: field 'kwargs\[0\]': .*'num_words'"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_input_exits_2_with_one_line_and_keeps_existing_output(tmp_path, capsys, case):
    import re

    line, pattern = BAD_ROWS[case]
    good = json.dumps({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"],
                       "kwargs": [{}], "response": "fine"})  # fmt: skip
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good + "\n" + line + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "verdicts_strict.jsonl").write_text("EARLIER RUN\n", encoding="utf-8")
    (out / "results.json").write_text("{}\n", encoding="utf-8")
    rc, _, err = run(capsys, "verify", str(bad), "--out", str(out))
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(pattern, err), err
    assert (out / "verdicts_strict.jsonl").read_text(encoding="utf-8") == "EARLIER RUN\n"
    assert (out / "results.json").read_text(encoding="utf-8") == "{}\n"
    assert not (out / "verdicts_loose.jsonl").exists()


def test_constraints_list_show_render(capsys):
    rc, out, _ = run(capsys, "constraints", "list", "--family", "ifeval")
    assert rc == 0 and "25 constraint ids" in out and "keywords:letter_frequency" in out
    rc, out, _ = run(capsys, "constraints", "list", "--family", "keywords")
    assert rc == 0 and "keywords:forbidden_words" in out and "punctuation:no_comma" not in out
    rc, out, _ = run(capsys, "constraints", "show", "length_constraints:number_words")
    assert rc == 0
    assert (
        "numerical" in out and "数值约束" in out and "num_words" in out and "'less than' | 'at least'" in out
    )
    assert "en: Answer with" in out and "zh: 回答" in out
    rc, out, _ = run(capsys, "constraints", "render", "length_constraints:number_words",
                     "--kwargs", '{"num_words": 300, "relation": "at least"}', "--lang", "zh")  # fmt: skip
    assert rc == 0 and out.strip() == "回答的英文单词数至少 300 个。"
    rc, out, _ = run(capsys, "constraints", "render", "length_constraints:number_words",
                     "--kwargs", '{"num_words": 300, "relation": "at least"}')  # fmt: skip
    assert out.strip() == "Answer with at least 300 words."


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["constraints", "show", "keywords:existance"], "did you mean keywords:existence"),
        (["constraints", "render", "keywords:frequency", "--kwargs", '{"keyword": "a"}'], "'frequency'"),
        (
            ["constraints", "render", "keywords:frequency", "--kwargs", "{oops"],
            "field '--kwargs': malformed JSON",
        ),
        (["constraints", "render", "punctuation:no_comma", "--lang", "fr"], "field '--lang'"),
    ],
)
def test_constraints_bad_input_exits_2(capsys, argv, pattern):
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and pattern in err and err.count("\n") == 1


def test_verify_prompts_without_responses_are_counted_as_missing(tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"key": 1, "prompt": "A?", "instruction_id_list": ["count:numbers"], "kwargs": [{"N": 2.0}]},
                {"key": 2, "prompt": "B?", "instruction_id_list": ["count:numbers"], "kwargs": [{"N": 1.0}]},
            ]
        ),  # fmt: skip
        encoding="utf-8",
    )
    responses = tmp_path / "resp.jsonl"
    responses.write_text(json.dumps({"prompt": "A?", "response": "1 and 2"}) + "\n", encoding="utf-8")
    rc, out, _ = run(
        capsys, "verify", str(responses), "--prompts", str(prompts), "--out", str(tmp_path / "o")
    )
    assert rc == 0
    assert "1 prompt(s)" in out and "missing" in out
    doc = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    assert doc["rows"] == 1 and doc["missing_responses"] == 1 and doc["missing_keys"] == [2]
    assert doc["results"]["strict"]["prompt_level"]["correct"] == 1
