"""Each synth stage writes the same JSON it wrote before its records were typed (issue 21).

A fixed-seed chain with scripted and rule-only roles (compose -> respond -> pairs dpo/sft/iopo,
iopo --y2 repair, refine --teacher rules) is compared file by file with tests/data/stage_outputs/,
written by the dict-literal producers. Regenerate (only on a deliberate format change) with
`python -m tests.synth.test_stage_outputs`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.core.io import write_jsonl
from followkit.core.records import Constraint, Instruction, render_prompt
from followkit.synth.compose import ComposeConfig, run_compose
from followkit.synth.pairs import PairsConfig, run_pairs
from followkit.synth.refine import RefineConfig, run_refine
from followkit.synth.respond import RespondConfig, run_respond
from tests.helpers.paths import DATA

GOLDEN = DATA / "stage_outputs"
INCLUDE = [
    "punctuation:no_comma",
    "startend:end_checker",
    "change_case:english_lowercase",
    "keywords:existence",
    "detectable_content:postscript",
]
TEXTS = [
    "The Cat is a small animal, it sleeps all day.",
    "the cat is a small animal it sleeps all day",
    "the cat sleeps all day. P.S. it purrs. Any other questions?",
]
FILES = {
    "compose": ["instructions.jsonl"],
    "respond": ["responses.jsonl"],
    "dpo": ["pairs_dpo.jsonl"],
    "margin": ["pairs_dpo.jsonl"],
    "sft": ["sft.jsonl"],
    "iopo": ["groups_iopo.jsonl"],
    "repair": ["groups_iopo.jsonl"],
    "refine": ["pairs_refine.jsonl", "sft_refine.jsonl"],
}


def _student(chat: list[dict], i: int) -> str:
    return TEXTS[(len(chat[-1]["content"]) + i) % len(TEXTS)]


X1 = [
    Constraint(id="punctuation:no_comma", kwargs={}, text="Do not use any commas."),
    Constraint(
        id="keywords:frequency",
        kwargs={"keyword": "cat", "frequency": 2, "relation": "at least"},
        text="Use the word cat at least 2 times.",
    ),
]
Y1, Y2 = "the cat saw another cat in the garden", "a dog sat in the garden"


def _iopo_responses(folder: Path) -> str:
    """One instruction whose y1 follows x1 and whose modified x2 a second sample (Y2) follows."""
    prompt = render_prompt("Describe a cat.", [c.text for c in X1], None)
    inst = Instruction(id="cat", task="Describe a cat.", constraints=X1, prompt=prompt)
    write_jsonl(folder / "instructions.jsonl", [inst.model_dump()])
    run_respond(RespondConfig(n=1), folder, student=ScriptedBackend(lambda c, i: Y1), progress=False)
    return str(folder / "responses.jsonl")


def run_chain(root: Path) -> dict[str, Path]:
    """Run every stage into root/<stage>/; the folders holding each stage's output."""
    dirs = {name: root / name for name in FILES}
    run_compose(ComposeConfig(n=12, seed=7, languages=["en"], k="uniform:1-2", include=INCLUDE), dirs["compose"], progress=False)  # fmt: skip
    run_respond(
        RespondConfig(n=3, instructions=str(dirs["compose"] / "instructions.jsonl")),
        dirs["respond"],
        student=ScriptedBackend(_student),
        progress=False,
    )
    responses = str(dirs["respond"] / "responses.jsonl")
    run_pairs(PairsConfig(format="dpo", responses=responses), dirs["dpo"], progress=False)
    run_pairs(
        PairsConfig(format="dpo", pairing="margin", responses=responses), dirs["margin"], progress=False
    )
    run_pairs(PairsConfig(format="sft", responses=responses), dirs["sft"], progress=False)
    run_pairs(
        PairsConfig(format="iopo", operators=["modify"], n=2, responses=_iopo_responses(dirs["iopo"])),
        dirs["iopo"],
        student=ScriptedBackend(lambda c, i: Y1 if i == 0 else Y2),
        progress=False,
    )
    run_pairs(
        PairsConfig(format="iopo", y2="repair", seed=5, responses=responses), dirs["repair"], progress=False
    )
    run_refine(RefineConfig(teacher="rules", responses=responses), dirs["refine"], progress=False)
    return dirs


@pytest.mark.parametrize("stage", list(FILES))
def test_stage_writes_what_it_wrote_before(tmp_path_factory: pytest.TempPathFactory, stage: str) -> None:
    dirs = _chain(tmp_path_factory)
    for name in FILES[stage]:
        got, before = (dirs[stage] / name).read_bytes(), (GOLDEN / stage / name).read_bytes()
        assert got, f"{stage}/{name} is empty: the fixture no longer exercises it"
        if stage in PARSED:
            got, before = _parsed(got), _parsed(before)
        assert got == before, f"{stage}/{name} differs from what it wrote before"


PARSED = {"respond"}
"""Stages compared as parsed JSON: a Response row's declared fields now come first (the values are the same)."""


def _parsed(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


_CACHE: dict[str, dict[str, Path]] = {}


def _chain(factory: pytest.TempPathFactory) -> dict[str, Path]:
    if "dirs" not in _CACHE:
        _CACHE["dirs"] = run_chain(factory.mktemp("chain"))
    return _CACHE["dirs"]


if __name__ == "__main__":
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        dirs = run_chain(Path(tmp))
        for stage, names in FILES.items():
            (GOLDEN / stage).mkdir(parents=True, exist_ok=True)
            for name in names:
                shutil.copy(dirs[stage] / name, GOLDEN / stage / name)
    sys.exit(0)


@pytest.mark.parametrize("turns", [1, 2])
def test_compose_writes_each_record_as_its_dict(tmp_path: Path, turns: int) -> None:
    from followkit.core.io import dumps
    from followkit.synth.compose import composer_from_config

    cfg = ComposeConfig(n=6, seed=2, languages=["en"], k="uniform:1-2", include=INCLUDE, turns=turns)
    run_compose(cfg, tmp_path, progress=False)
    comp = composer_from_config(cfg)
    lines = (tmp_path / "instructions.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines == [dumps(comp.compose_record(i)) for i in range(cfg.n)]
