"""compose: determinism, compatibility, languages, k distribution, seed files, CLI contract; followkit-bench."""

from __future__ import annotations

import json
import random

import pytest

from followkit.cli import main
from followkit.constraints import registry
from followkit.constraints.conflicts import compatible, compatible_set
from followkit.core.errors import InputError
from followkit.core.records import Conversation, render_prompt
from followkit.synth.bench import bench_instructions
from followkit.synth.compose import _FOLLOW_UPS, ComposeConfig, Composer, compose, run_compose
from followkit.synth.kdist import KDist
from followkit.synth.seeds import SeedTask, load_seed_file, load_seeds
from tests.helpers.paths import FIXTURES


def dump(insts):
    return [i.model_dump(mode="json") for i in insts]


def test_same_seed_same_output_and_other_seed_differs():
    a = dump(compose(60, seed=3))
    b = dump(compose(60, seed=3))
    c = dump(compose(60, seed=4))
    assert a == b
    assert sum(x != y for x, y in zip(a, c, strict=True)) > 50


def test_item_depends_only_on_seed_and_index():
    comp = Composer(load_seeds(), seed=11)
    whole = dump(comp.compose(40))
    # Any index alone, in any order, and a fresh composer, give the same record.
    other = Composer(load_seeds(), seed=11)
    for i in random.Random(0).sample(range(40), 40):
        assert other.compose_one(i).model_dump(mode="json") == whole[i]
    assert dump(comp.compose(40, start=25)) == whole[25:]


def test_constraints_are_compatible_distinct_and_rendered():
    reg = registry.registry()
    insts = compose(600, seed=5)
    for inst in insts:
        ids = [c.id for c in inst.constraints]
        assert 1 <= len(ids) <= 15
        assert len(set(ids)) == len(ids)
        assert compatible_set(ids)
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                assert compatible(a, b), (a, b)
        for c in inst.constraints:
            ct = reg[c.id]
            assert inst.language in ct.languages
            assert c.text == ct.render(ct.parse_kwargs(c.kwargs), inst.language)
            assert c.text.strip()
        expect = render_prompt(inst.task, [c.text for c in inst.constraints], inst.input, inst.language)
        assert inst.prompt == expect
        assert inst.prompt.startswith(inst.task)


def test_languages_follow_the_seed_tasks():
    zh = compose(200, seed=1, languages=("zh",))
    assert {i.language for i in zh} == {"zh"}
    reg = registry.registry()
    assert all("zh" in reg[c.id].languages for i in zh for c in i.constraints)
    both = compose(300, seed=1)
    assert {i.language for i in both} == {"en", "zh"}
    assert any(i.input for i in both)


def test_trace_k_distribution_mean_and_range():
    kd = KDist.parse("trace")
    assert abs(kd.mean() - 4.4) < 0.05
    rng = random.Random(0)
    draws = [kd.sample(rng) for _ in range(20000)]
    assert min(draws) == 1 and max(draws) <= 15
    assert abs(sum(draws) / len(draws) - 4.4) < 0.1
    assert KDist.parse("fixed:3").sample(rng) == 3
    assert set(KDist.parse("uniform:2-4").sample(rng) for _ in range(200)) == {2, 3, 4}
    kd = KDist.parse("1:1,5:3")
    assert abs(kd.mean() - 4.0) < 1e-9


@pytest.mark.parametrize("spec", ["fixed:0", "uniform:3-20", "banana", "2:x"])
def test_bad_k_distribution_is_an_input_error(spec):
    with pytest.raises(InputError, match="k distribution"):
        KDist.parse(spec)


def test_include_exclude_restrict_the_pool():
    insts = compose(100, seed=2, include=("keywords:", "detectable_format:"))
    ids = {c.id for i in insts for c in i.constraints}
    assert ids and all(i.startswith(("keywords:", "detectable_format:")) for i in ids)
    insts = compose(100, seed=2, exclude=("keywords:",))
    assert not any(c.id.startswith("keywords:") for i in insts for c in i.constraints)
    # IFBench's custom ids are tasks of their own: out by default, in when asked for.
    assert not any(
        c.id.startswith("custom:") for i in compose(400, seed=2, k="fixed:1") for c in i.constraints
    )
    assert any(
        c.id.startswith("custom:")
        for i in compose(400, seed=2, k="fixed:1", exclude=())
        for c in i.constraints
    )


def test_user_seed_files_jsonl_and_text(tmp_path):
    p = tmp_path / "mine.jsonl"
    p.write_text(
        json.dumps({"task": "Describe a cat.", "input": None})
        + "\n\n"
        + json.dumps({"id": "x", "task": "总结下文。", "input": "今天天气很好。"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    seeds = load_seed_file(p)
    assert seeds == [
        SeedTask(id="mine-1", task="Describe a cat.", input=None, language="en"),
        SeedTask(id="x", task="总结下文。", input="今天天气很好。", language="zh"),
    ]
    t = tmp_path / "tasks.txt"
    t.write_text("# my tasks\nWrite a haiku.\n\n写一首诗。\n", encoding="utf-8")
    assert [(s.id, s.language) for s in load_seed_file(t)] == [("tasks-2", "en"), ("tasks-4", "zh")]
    insts = compose(20, seed=0, seeds=str(t))
    assert {i.task for i in insts} <= {"Write a haiku.", "写一首诗。"}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"task": "ok"}\n{"input": "no task"}\n', ":2: field 'task': missing"),
        ('{"task": "ok"}\n{"task": 5}\n', ":2: field 'task': expected str"),
        ('{"task": "ok"}\n{"task": "x", "language": "fr"}\n', ":2: field 'language': unsupported"),
        ('{"task": "ok"}\n{"task": "x", "input": 3}\n', ":2: field 'input': expected str or null"),
        ('{"task": "ok"}\n{"task": \n', ":2: malformed JSON"),
    ],
)
def test_malformed_seed_file_names_file_line_field(tmp_path, body, where):
    p = tmp_path / "bad.jsonl"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_seed_file(p)
    assert str(exc.value).startswith(str(p)) and where in str(exc.value)


def test_cli_bad_seed_file_exits_2_and_keeps_existing_output(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["synth", "compose", "--n", "5", "--seed", "1", "--out", str(out)]) == 0
    before = (out / "instructions.jsonl").read_text(encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "fine"}\n{"tsk": "typo"}\n', encoding="utf-8")
    code = main(["synth", "compose", "--n", "5", "--seeds", str(bad), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{bad}:2: field 'task': missing" in err
    assert len(err.strip().splitlines()) == 1
    assert (out / "instructions.jsonl").read_text(encoding="utf-8") == before


def test_cli_compose_contract_and_resume(tmp_path):
    out = tmp_path / "run"
    assert main(["synth", "compose", "--n", "30", "--seed", "7", "--out", str(out)]) == 0
    lines = (out / "instructions.jsonl").read_text(encoding="utf-8").splitlines()
    recs = [json.loads(x) for x in lines]
    assert [r["id"] for r in recs] == [f"fk7-{i:06d}" for i in range(30)]
    assert set(recs[0]) >= {"id", "task", "input", "constraints", "language", "prompt"}
    assert set(recs[0]["constraints"][0]) >= {"id", "kwargs", "text"}
    assert recs == dump(compose(30, seed=7))
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["stage"] == "synth.compose" and man["seed"] == 7
    assert man["counts"]["instructions"] == 30 and man["counts"]["new"] == 30
    assert man["config"]["n"] == 30 and "versions" in man
    assert json.loads((out / "manifest_compose.json").read_text(encoding="utf-8")) == man
    # A rerun asking for more appends only the new ids; nothing is duplicated.
    assert main(["synth", "compose", "--n", "40", "--seed", "7", "--out", str(out)]) == 0
    recs2 = [json.loads(x) for x in (out / "instructions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert recs2[:30] == recs and len(recs2) == 40
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["counts"]["resumed"] == 30 and man["counts"]["new"] == 10


def test_run_compose_config_mean_k(tmp_path):
    man = run_compose(ComposeConfig(n=2000, seed=0, k="trace"), tmp_path, progress=False)
    assert abs(man["constraints_per_instruction"]["mean"] - 4.4) < 0.3


def test_bench_is_deterministic_heldout_and_bounded():
    b = bench_instructions()
    assert len(b) == 300
    assert [i.id for i in b] == [f"fkb-{i:04d}" for i in range(1, 301)]
    assert b == bench_instructions()
    ks = [len(i.constraints) for i in b]
    assert min(ks) >= 1 and max(ks) <= 8
    assert len(set(ks)) == 8  # every k from 1 to 8 occurs
    assert {i.language for i in b} == {"en", "zh"}
    reg = registry.registry()
    assert all(c.id in reg for i in b for c in i.constraints)  # all verifiable by rules
    held = {s.task for s in load_seeds("heldout")}
    train = {s.task for s in load_seeds("builtin")}
    assert not held & train
    assert {i.task for i in b} <= held
    assert all(compatible_set([c.id for c in i.constraints]) for i in b)


# --- multi-turn (--turns) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "settings"),
    [("plain", {}), ("mixed", {"phrasing": "varied", "placement": "mixed"})],
)
def test_one_turn_writes_the_bytes_compose_wrote_before_turns_existed(tmp_path, name, settings):
    # The fixtures are `synth compose --n 8 --seed 7` output of the commit before --turns (053b043).
    run_compose(ComposeConfig(n=8, seed=7, turns=1, **settings), tmp_path, progress=False)
    got = (tmp_path / "instructions.jsonl").read_bytes()
    assert got == (FIXTURES / f"compose_seed7_{name}.jsonl").read_bytes()


def test_turns_accumulate_compatible_constraints_and_ask_to_rewrite(tmp_path):
    man = run_compose(ComposeConfig(n=60, seed=3, turns=3, k="uniform:1-2"), tmp_path, progress=False)
    recs = [json.loads(x) for x in (tmp_path / "instructions.jsonl").read_text(encoding="utf-8").splitlines()]
    reg = registry.registry()
    for rec in recs:
        conv = Conversation.model_validate(rec)
        assert "prompt" not in rec and "constraints" not in rec  # single-turn readers refuse it, loudly
        ids = [[c.id for c in t.constraints] for t in conv.turns]
        for t in range(1, len(ids)):
            assert ids[t][: len(ids[t - 1])] == ids[t - 1]  # turn t holds every earlier constraint
            assert 1 <= len(ids[t]) - len(ids[t - 1]) <= 2  # and adds k ~ uniform:1-2 of its own
        assert 1 <= len(ids[0]) <= 2 and compatible_set(ids[-1]) and len(set(ids[-1])) == len(ids[-1])
        first = conv.turns[0]
        assert first.prompt == render_prompt(
            rec["task"], [c.text for c in first.constraints], rec["input"], rec["language"]
        )
        for t in range(1, len(conv.turns)):
            new = conv.turns[t].constraints[len(conv.turns[t - 1].constraints) :]
            lead = conv.turns[t].prompt.splitlines()[0]
            assert lead in _FOLLOW_UPS["zh" if rec["language"] == "zh" else "en"]
            assert conv.turns[t].prompt == render_prompt(lead, [c.text for c in new], None, rec["language"])
            assert all(rec["language"] in reg[c.id].languages for c in new)
    assert sum(len(r["turns"]) == 3 for r in recs) >= 55  # shorter only when compatible ids run out
    assert set(man["turns_per_conversation"]) <= {1, 2, 3}
    assert man["constraints_per_instruction"]["mean"] > 3  # the last turn's: all constraints in force
    # The same index gives the same conversation alone, on the seed task its one-turn record has.
    comp = Composer(load_seeds(), seed=3, k="uniform:1-2", turns=3)
    assert comp.compose_one(17).model_dump(mode="json", exclude_unset=True) == recs[17]
    assert [i.task for i in compose(5, seed=3, turns=1)] == [r["task"] for r in recs[:5]]


def test_turns_out_of_range_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="turns"):
        Composer(load_seeds(), turns=0)
    assert main(["synth", "compose", "--n", "2", "--turns", "0", "--out", str(tmp_path / "x")]) == 2
