"""The readers moved onto followkit.core.records: every bad row is named by file:line:field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followkit.core.errors import InputError
from followkit.evaluate.winrate import read_responses
from followkit.report.views import read_samples
from followkit.select.car import load_teacher
from followkit.train.data import DataStats, iter_parsed

CHAT = [{"role": "user", "content": "Say hi."}]


def _file(tmp: Path, *rows: dict) -> Path:
    p = tmp / "in.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("method", "good", "bad", "where"),
    [
        ("dpo", {"prompt": "q", "chosen": "a", "rejected": "b"}, {"prompt": 3, "chosen": "a", "rejected": "b"}, "prompt"),
        ("dpo", {"prompt": "q", "chosen": "a", "rejected": "b", "id": "x"}, {"prompt": "q", "chosen": "a"}, "rejected': missing"),
        ("iopo", {"id": "g", "x1": "a", "y1": "b", "x2": "c", "y2": "d"}, {"x1": "a", "y1": "b", "x2": "c", "y2": "d"}, "id': missing"),
        ("sft", {"messages": CHAT + [{"role": "assistant", "content": "hi"}]}, {"messages": "hi"}, "messages"),
    ],
)  # fmt: skip
def test_train_rows_are_checked_as_their_method_record(tmp_path, method, good, bad, where) -> None:
    path = _file(tmp_path, good, bad)
    with pytest.raises(InputError, match=rf"in.jsonl:2: field '{where}"):
        list(iter_parsed(path, method, DataStats()))
    assert len(list(iter_parsed(_file(tmp_path, good), method, DataStats()))) == 1


def test_car_teacher_rows_name_file_line_field(tmp_path) -> None:
    good = {"id": "p1", "prompt": "Say hi.", "response": "hi", "constraints": []}
    with pytest.raises(InputError, match=r"in.jsonl:2: field 'response': missing"):
        load_teacher("a", _file(tmp_path, good, {"id": "p2", "prompt": "x"}))
    with pytest.raises(InputError, match=r"in.jsonl:2: field 'id': duplicate id 'p1' \(also on line 1\)"):
        load_teacher("a", _file(tmp_path, good, good))
    trl = {"id": "p1", "messages": CHAT + [{"role": "assistant", "content": "hi"}], "constraints": []}
    (rec,) = load_teacher("a", _file(tmp_path, trl)).records
    assert rec.chat == CHAT and rec.response == "hi"


def test_winrate_rows_name_file_line_field_and_read_alpaca_eval(tmp_path) -> None:
    with pytest.raises(InputError, match=r"in.jsonl:1: field 'response'"):
        read_responses(_file(tmp_path, {"id": 1, "prompt": "x", "response": 5}))
    (row,) = read_responses(_file(tmp_path, {"instruction": "x", "output": "y", "generator": "m"}))
    assert (row.prompt, row.response, row.model, row.id) == ("x", "y", "m", None)


def test_report_reads_samples_as_eval_samples_and_keeps_older_rows(tmp_path) -> None:
    new = {"id": "a", "messages": CHAT, "response": "hi"}
    old = {"key": 7, "prompt": "Say hi.", "response": "hi"}
    odd = {"response": "no id"}
    got = read_samples(tmp_path / "samples.jsonl", [new, old, odd])
    assert got[0] == new and got[1]["id"] == "7" and got[2] == odd
