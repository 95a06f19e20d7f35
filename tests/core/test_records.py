"""followkit.core.records: one reader and one writer per record type, one adapter per foreign shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followkit.core import records
from followkit.core.errors import InputError

INSTRUCTION = {
    "id": "i1",
    "task": "Write a greeting.",
    "constraints": [{"id": "punctuation:no_comma", "kwargs": {}, "text": "Do not use any commas."}],
    "prompt": "Write a greeting.\n1. Do not use any commas.\n",
}


def _file(tmp: Path, *rows: dict | str) -> Path:
    p = tmp / "in.jsonl"
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return p


def test_round_trip_every_type(tmp_path: Path) -> None:
    from followkit.core.records import Instruction
    from followkit.synth.common import rule_verdicts, user_chat
    from followkit.synth.respond import response_record

    inst = Instruction.model_validate(INSTRUCTION)
    resp = response_record(
        inst,
        0,
        "Hi there.",
        user_chat(inst.prompt),
        "m",
        {},
        rule_verdicts(inst.constraints, "Hi there.", None),
    ).model_dump(mode="json", exclude_unset=True)
    msgs = [{"role": "user", "content": "hi"}]
    samples = {
        records.Instruction: INSTRUCTION,
        records.ResponseWithVerdicts: resp,
        records.PreferencePair: {
            "prompt": msgs,
            "chosen": [{"role": "assistant", "content": "a"}],
            "rejected": [{"role": "assistant", "content": "b"}],
        },
        records.IOPOGroup: {"id": "g", "x1": "p1", "y1": "a", "x2": "p2", "y2": "b"},
        records.SFTRecord: {"messages": msgs + [{"role": "assistant", "content": "a"}]},
        records.EvalSample: {"id": "e", "messages": msgs, "response": "a", "follow_all": True},
        records.TeacherRow: {"id": "t", "messages": msgs, "response": "a"},
    }
    for kind, row in samples.items():
        src = _file(tmp_path, row)
        got = records.read(src, kind)
        assert len(got) == 1 and isinstance(got[0], kind)
        records.write(tmp_path / "out.jsonl", got)
        again = records.read(tmp_path / "out.jsonl", kind)
        assert again == got, kind.__name__


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = {**INSTRUCTION, "id": "i2", "constraints": [{"id": 3}]}
    src = _file(tmp_path, INSTRUCTION, bad)
    with pytest.raises(InputError) as err:
        records.read(src, records.Instruction)
    assert str(err.value).startswith(f"{src}:2: field 'constraints[0].id':")


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    src = _file(tmp_path, INSTRUCTION, INSTRUCTION)
    with pytest.raises(InputError, match=r"in.jsonl:2: field 'id': duplicate id 'i1' \(also on line 1\)"):
        records.read(src, records.Instruction)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty file"):
        records.read(_file(tmp_path), records.Instruction)


@pytest.mark.parametrize(
    ("row", "shape", "ids"),
    [
        (
            {
                "key": 7,
                "prompt": "Hi",
                "instruction_id_list": ["punctuation:no_comma"],
                "kwargs": [{}],
                "response": "a",
            },
            "ifeval",
            ["punctuation:no_comma"],
        ),
        (
            {"id": "t1", "prompt": "Hi", "constraints": "1. Be brief.\n2. Be kind.", "response": "a"},
            "trace",
            ["trace:text", "trace:text"],
        ),
        ({"id": "p1", "prompt": "Hi", "response": "a"}, "prompt", []),
        (
            {
                "id": "c1",
                "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "a"}],
            },
            "trl",
            [],
        ),
    ],
)
def test_foreign_shapes_through_one_adapter_each(
    tmp_path: Path, row: dict, shape: str, ids: list[str]
) -> None:
    assert records.detect_shape(row) == shape
    (got,) = records.read(_file(tmp_path, row), records.TeacherRow, shape="auto")
    assert got.response == "a"
    assert got.messages[-1] == {"role": "user", "content": "Hi"}
    assert [c.id for c in got.constraints] == ids


def test_adapter_error_names_the_line(tmp_path: Path) -> None:
    row = {"key": 1, "prompt": "Hi", "instruction_id_list": ["a", "b"], "kwargs": [{}], "response": "x"}
    with pytest.raises(InputError, match=r"in.jsonl:1: field 'kwargs'"):
        records.read(_file(tmp_path, row), records.TeacherRow, shape="auto")


def test_integer_ids_read_as_text():
    p = records.PreferencePair.model_validate(
        {
            "id": 7,
            "prompt": [{"role": "user", "content": "q"}],
            "chosen": [{"role": "assistant", "content": "a"}],
            "rejected": [{"role": "assistant", "content": "b"}],
        }
    )
    assert p.id == "7"
    assert (
        records.SFTRecord.model_validate({"id": 3, "messages": [{"role": "user", "content": "q"}]}).id == "3"
    )
