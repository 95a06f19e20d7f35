"""`followkit compare BASE OTHER`: samples read as records, hand-checked numbers, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followkit.cli import main


def _eval_dir(root: Path, name: str, verdicts: list[list[bool]], ids: list[str] | None = None) -> Path:
    d = root / name
    d.mkdir()
    rows = [
        {
            "id": (ids or [f"p{i}" for i in range(len(verdicts))])[i],
            "messages": [{"role": "user", "content": f"prompt {i}"}],
            "response": "r",
            "verdicts": {"strict": v, "loose": v},
        }
        for i, v in enumerate(verdicts)
    ]
    (d / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_compare_writes_hand_checked_differences(tmp_path: Path, capsys):
    # 4 prompts, 2 constraints each. Base follows p0 only (3 of 8 constraints); other follows p0 and
    # p1 (6 of 8): prompt level 25% -> 50% (+25 points), instruction level 37.5% -> 75% (+37.5).
    base = _eval_dir(tmp_path, "base", [[True, True], [False, True], [False, False], [False, False]])
    other = _eval_dir(tmp_path, "other", [[True, True], [True, True], [True, False], [False, True]])
    out = tmp_path / "cmp.json"
    assert main(["compare", str(base), str(other), "--out", str(out), "--n-boot", "2000"]) == 0
    doc = json.loads(out.read_text())
    assert doc["n_prompts"] == 4 and doc["n_instructions"] == 8
    assert doc["prompt_diff"]["diff"] == pytest.approx(0.25)
    assert doc["inst_diff"]["diff"] == pytest.approx(0.375)
    assert doc["mcnemar_b"] == 0 and doc["mcnemar_c"] == 1  # p1: followed by other only
    assert doc["inst_diff"]["lo"] <= 0.375 <= doc["inst_diff"]["hi"]
    assert "+37.5" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("duplicate", "samples.jsonl:2: field 'id': duplicate id 'p0' (also on line 1)"),
        ("malformed", "samples.jsonl:2: malformed JSON"),
        ("no-folder", "no samples.jsonl: not an evaluation folder"),
        ("n-boot", "--n-boot: Input should be greater than or equal to 100"),
        ("missing-arg", "missing argument OTHER"),
    ],
)
def test_compare_bad_inputs_are_one_line(tmp_path: Path, capsys, case: str, needle: str):
    good = _eval_dir(tmp_path, "good", [[True], [False]])
    if case == "duplicate":
        bad = _eval_dir(tmp_path, "bad", [[True], [False]], ids=["p0", "p0"])
    elif case == "malformed":
        bad = _eval_dir(tmp_path, "bad", [[True]])
        with (bad / "samples.jsonl").open("a") as fh:
            fh.write("{not json\n")
    else:
        bad = tmp_path / "nothing-here"
    out = tmp_path / "cmp.json"
    args = {
        "n-boot": ["compare", str(good), str(good), "--n-boot", "5"],
        "missing-arg": ["compare", str(good)],
    }.get(case, ["compare", str(good), str(bad), "--out", str(out)])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not out.exists()
