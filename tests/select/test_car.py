"""CAR teacher selection: the formula, ranks and Spearman by hand; loading; the table; bad inputs."""

from __future__ import annotations

import json
import math
import re

import pytest
from rich.console import Console

from followkit.backends.scripted import ScriptedBackend
from followkit.cli import main
from followkit.core.errors import InputError
from followkit.rewards.car import JudgeReward, VerifierReward
from followkit.select.car import (
    BETA_SWEEP,
    UNCOND_CHAT,
    CarConfig,
    best_teacher,
    car_score,
    load_downstream,
    load_teacher,
    parse_teacher_arg,
    rank_values,
    resolve_model_spec,
    run_car,
    score_teachers,
    spearman,
    validate,
)
from tests.helpers.paths import FIXTURES

FIX = FIXTURES
PLAIN, ODD, BROKEN = FIX / "car_plain.jsonl", FIX / "car_odd.jsonl", FIX / "car_broken.jsonl"


# --- the formula, ranks and Spearman, by hand --------------------------------------------------


def test_car_formula_by_hand():
    assert car_score(0.9, 2.0, 1.0) == pytest.approx(0.3)
    assert car_score(0.9, 2.0, 0.0) == pytest.approx(0.9)  # beta 0 is the reward alone
    assert car_score(0.6, 0.5, 2.0) == pytest.approx(0.3)


def test_ranks_share_ties_and_follow_direction():
    assert rank_values([0.2, 0.9, 0.5]) == [3.0, 1.0, 2.0]
    assert rank_values([0.2, 0.9, 0.5], higher_is_better=False) == [1.0, 3.0, 2.0]
    assert rank_values([1.0, 3.0, 3.0, 2.0]) == [4.0, 1.5, 1.5, 3.0]


def test_spearman_by_hand_and_against_scipy():
    # No ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)); ranks (1,2,3,4) vs (2,1,4,3): sum d^2 = 4 -> 0.6.
    assert spearman([4, 3, 2, 1], [3, 4, 1, 2]) == pytest.approx(0.6)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    stats = pytest.importorskip("scipy.stats")
    x, y = [0.3, 0.1, 0.1, 0.7, 0.5, 0.5], [2.0, 1.0, 3.0, 6.0, 5.0, 4.0]
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


# --- loading teacher files ----------------------------------------------------------------------


def test_loads_all_three_shapes_and_model_specs():
    plain, odd, broken = (
        load_teacher("plain", PLAIN),
        load_teacher("odd", ODD),
        load_teacher("broken", BROKEN),
    )
    assert (
        plain.model == "openai:plain-teacher" and odd.model == "openai:odd-teacher" and broken.model is None
    )
    # followkit Instruction + response (synth respond output): the prompt becomes the user turn.
    assert (
        odd.records[0].chat
        == plain.records[0].chat
        == [{"role": "user", "content": odd.records[0].chat[0]["content"]}]
    )
    # A trailing assistant turn is the response, not part of the prompt.
    assert broken.records[1].chat[-1]["role"] == "user"
    assert broken.records[1].response.startswith("Cats are")
    assert [c["id"] for c in odd.records[2].constraints] == [
        "keywords:existence",
        "change_case:english_lowercase",
    ]


def test_ifeval_rows_and_teacher_arg(tmp_path):
    f = tmp_path / "ifeval.jsonl"
    row = {
        "key": 1001,
        "prompt": "Write in lowercase.",
        "instruction_id_list": ["change_case:english_lowercase"],
        "kwargs": [{"unused": None}],
        "response": "ok",
    }
    f.write_text(json.dumps(row) + "\n")
    t = load_teacher("ife", f)
    assert t.records[0].id == "1001" and t.records[0].constraints == [
        {"id": "change_case:english_lowercase", "kwargs": {}, "text": ""}
    ]
    assert parse_teacher_arg("a=x.jsonl@openai:gpt") == ("a", "x.jsonl", "openai:gpt")
    assert parse_teacher_arg("a=x.jsonl") == ("a", "x.jsonl", None)
    with pytest.raises(InputError, match="NAME=FILE"):
        parse_teacher_arg("x.jsonl")


# --- scoring with a scripted student ---------------------------------------------------------------


class WordStudent(ScriptedBackend):
    """A scripted student: log-prob -0.5 per word it knows, -4 per word it does not (one token a word).

    Without the instruction (IFD's PPL(y)) every word costs 1 nat more.
    """

    def __init__(self, known: set[str]):
        super().__init__(lambda chat, i: "")
        self.known = known

    def logprobs(self, pairs):
        out = []
        for chat, resp in pairs:
            extra = -1.0 if chat == UNCOND_CHAT else 0.0
            out.append(
                [(-0.5 if w.strip(".,'").lower() in self.known else -4.0) + extra for w in resp.split()]
            )
        return out


def _student() -> WordStudent:
    return WordStudent(
        {w.strip(".,'").lower() for r in load_teacher("p", PLAIN).records for w in r.response.split()}
    )


def _teachers():
    return [load_teacher("odd", ODD), load_teacher("broken", BROKEN), load_teacher("plain", PLAIN)]


def test_ranking_known_by_construction_with_the_verifier():
    # plain and odd follow every constraint (equal reward), odd's words are foreign to the student;
    # broken is plain with one small edit per answer that breaks a constraint (loss ~equal, reward lower).
    rep = score_teachers(_teachers(), _student(), VerifierReward(), beta=1.0)
    by = {t.name: t for t in rep.teachers}
    assert by["plain"].reward == 1.0 and by["odd"].reward == 1.0
    assert by["broken"].reward == pytest.approx((0 + 0 + 0.5 + 0) / 4)
    assert by["plain"].loss == pytest.approx(0.5)
    assert by["odd"].loss > 2.0
    assert abs(by["broken"].loss - by["plain"].loss) < 0.2
    assert by["plain"].car == pytest.approx(1.0 / 1.5)
    assert rep.ranking[0] == "plain"
    assert by["plain"].ranks["reward"] == by["odd"].ranks["reward"] == 1.5  # the reward alone cannot tell
    # IFD = exp(NLL(y|x) - NLL(y)) = exp(-1) for every response of this student.
    assert by["plain"].ifd == pytest.approx(math.exp(-1.0))
    assert by["plain"].length == pytest.approx(
        sum(len(r.response.split()) for r in load_teacher("p", PLAIN).records) / 4
    )
    doc = rep.to_dict()
    assert doc["best"] == "plain" and doc["best_model"] == "openai:plain-teacher"
    assert len(rep.per_response) == 12


def _judge_fn(chat, i):
    # A scripted judge: 4 for a response that starts with a capital letter where the fixture's
    # good teachers write lowercase, else 10.
    text = chat[-1]["content"]
    body = text.split("# Response", 1)[1]
    n = int(re.search(r"\((\d+) in all\)", text).group(1))
    score = 4 if "Cats are" in body or "My favorite" in body else 10
    fine = ", ".join(f'{{"{k}": {score}}}' for k in range(1, n + 1))
    return f"ok\nFine Grained Score: [{fine}]\nConstraints Overall Score: [[{score}]]"


def test_judge_reward_scales_to_unit_interval():
    rep = score_teachers(_teachers(), _student(), JudgeReward(ScriptedBackend(_judge_fn)), beta=1.0)
    by = {t.name: t for t in rep.teachers}
    assert by["plain"].reward == pytest.approx(1.0)
    assert by["broken"].reward == pytest.approx((10 + 4 + 4 + 10) / 40)
    assert by["broken"].reward_raw == pytest.approx((10 + 4 + 4 + 10) / 4)


def test_validate_spearman_and_beta_sweep():
    rep = score_teachers(_teachers(), _student(), VerifierReward(), beta=1.0)
    # CAR orders plain > odd > broken (odd: full reward, foreign words; broken: familiar words, low reward).
    v = validate(rep, {"plain": 0.6, "odd": 0.4, "broken": 0.2})
    assert v["spearman"]["car"] == pytest.approx(1.0)
    # reward ranks (1.5, 1.5, 3) against (1, 2, 3): rho = 1.5 / sqrt(1.5 * 2).
    assert v["spearman"]["reward"] == pytest.approx(1.5 / math.sqrt(3.0))
    # loss (lower is better) ranks plain 1, broken 2, odd 3: one swap of 3 -> rho = 1 - 6 * 2 / 24.
    assert v["spearman"]["loss"] == pytest.approx(0.5)
    assert math.isnan(v["spearman"]["ifd"])  # this student's IFD is exp(-1) for every response
    assert v["car_beta_sweep"]["0.0"] == pytest.approx(v["spearman"]["reward"])
    assert set(v["car_beta_sweep"]) == {str(b) for b in BETA_SWEEP}
    with pytest.raises(InputError, match="odd"):
        validate(rep, {"plain": 1.0, "broken": 0.5})


def test_load_downstream_scores_and_winrate_files(tmp_path):
    (tmp_path / "wr_a.json").write_text(
        json.dumps({"length_controlled_win_rate": {"value": 0.7, "stderr": 0.1}})
    )
    (tmp_path / "scores.json").write_text(json.dumps({"b": 0.3, "a": "wr_a.json"}))
    assert load_downstream([str(tmp_path / "scores.json")]) == {"a": 0.7, "b": 0.3}
    # followkit winrate's winrate.json: the length-controlled win rate is preferred over the raw one.
    (tmp_path / "wr_c.json").write_text(json.dumps({"model": "m", "win_rate": 0.55, "lc_win_rate": 0.5}))
    assert load_downstream([f"c={tmp_path / 'wr_c.json'}"]) == {"c": 0.5}
    (tmp_path / "bad.json").write_text(json.dumps({"a": [1]}))
    with pytest.raises(InputError, match="expected a number"):
        load_downstream([str(tmp_path / "bad.json")])


def test_table_lists_teachers_in_car_order():
    from followkit.commands.car import print_table

    rep = score_teachers(_teachers(), _student(), VerifierReward(), beta=1.0)
    validate(rep, {"plain": 0.6, "odd": 0.4, "broken": 0.2})
    console = Console(record=True, width=200)
    print_table(rep.to_dict(), console)
    text = console.export_text()
    lines = [ln for ln in text.splitlines() if any(n in ln for n in ("plain", "broken", "odd"))]
    names = [next(n for n in ("plain", "broken", "odd") if n in ln) for ln in lines[:3]]
    assert names == ["plain", "odd", "broken"]
    assert "0.6667" in lines[0]  # CAR of plain = 1 / (1 + 0.5)
    assert "Spearman" in text and "car (beta=0.0)" in text


def test_best_teacher_reads_car_json(tmp_path):
    rep = score_teachers(_teachers(), _student(), VerifierReward(), beta=1.0)
    p = tmp_path / "car.json"
    p.write_text(json.dumps(rep.to_dict()))
    assert best_teacher(p) == "openai:plain-teacher"
    assert resolve_model_spec(f"auto:{p}") == "openai:plain-teacher"
    assert resolve_model_spec("embedded") == "embedded"
    doc = rep.to_dict()
    doc["teachers"][0]["model"] = None
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="plain=FILE@MODEL_SPEC"):
        best_teacher(p)


# --- run_car from Python and the command over it ---------------------------------------------------

TEACHER_ARGS = [f"odd={ODD}", f"broken={BROKEN}", f"plain={PLAIN}"]


def test_run_car_from_python_writes_car_json_responses_and_manifest(tmp_path):
    out = tmp_path / "car"
    cfg = CarConfig(teacher=TEACHER_ARGS, out=str(out), validation=[str(_scores(tmp_path))])
    doc = run_car(cfg, student=_student(), progress=False)
    assert doc["best"] == "plain" and doc["reward"]["spec"] == "verifier"
    assert doc["validation"]["spearman"]["car"] == pytest.approx(1.0)
    assert doc["outputs"] == {
        "car": str(out / "car.json"),
        "responses": str(out / "responses.jsonl"),
        "manifest": str(out / "manifest.json"),
    }
    written = json.loads((out / "car.json").read_text())  # this student's IFD rho is nan: compare as text
    assert json.dumps(written) == json.dumps({k: v for k, v in doc.items() if k != "outputs"})
    assert len((out / "responses.jsonl").read_text().splitlines()) == 12
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "car" and manifest["config"] == cfg.model_dump()
    assert manifest["student"]["backend"] == "scripted"


def _scores(tmp_path):
    path = tmp_path / "scores.json"
    path.write_text(json.dumps({"plain": 0.6, "odd": 0.4, "broken": 0.2}))
    return path


def _fake_load_backend(monkeypatch, backends):
    """followkit.backends.load_backend replaced: each spec's backend from `backends`, the calls recorded."""
    calls = []

    def load(spec, *, base_url=None, cache=True, refresh_cache=False, **options):
        calls.append((spec, base_url))
        return backends[spec]

    monkeypatch.setattr("followkit.backends.load_backend", load)
    return calls


def test_run_car_judge_reward_loads_the_judge_with_its_server_url(tmp_path, monkeypatch):
    calls = _fake_load_backend(
        monkeypatch, {"openai:judge": ScriptedBackend(_judge_fn), "openai:student": _student()}
    )
    cfg = CarConfig(
        teacher=TEACHER_ARGS,
        student="openai:student",
        base_url="http://127.0.0.1:8001/v1",
        reward="judge:openai:judge",
        judge_base_url="http://127.0.0.1:8002/v1",
        out=str(tmp_path / "car"),
    )
    doc = run_car(cfg, progress=False)
    assert calls == [
        ("openai:judge", "http://127.0.0.1:8002/v1"),
        ("openai:student", "http://127.0.0.1:8001/v1"),
    ]
    by = {t["name"]: t for t in doc["teachers"]}
    assert by["broken"]["reward"] == pytest.approx((10 + 4 + 4 + 10) / 40)
    # An injected judge replaces the one the config names.
    calls.clear()
    run_car(cfg, judge=ScriptedBackend(_judge_fn), progress=False)
    assert calls == [("openai:student", "http://127.0.0.1:8001/v1")]


def test_car_command_prints_the_table_and_the_best_teacher(tmp_path, monkeypatch, capsys):
    _fake_load_backend(monkeypatch, {"embedded": _student()})
    out = tmp_path / "car"
    rc = main(["car", *(a for t in TEACHER_ARGS for a in ("-t", t)), "--no-cache", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    assert printed.index("plain") < printed.index("odd") < printed.index("broken")
    assert printed.rstrip().endswith(f"best teacher: plain; wrote {out / 'car.json'}")
    assert (out / "manifest.json").exists()


# --- bad input through the command line: one line, exit 2, nothing written -------------------------


def _run(capsys, *args):
    rc = main(["car", *args])
    return rc, capsys.readouterr().err


def test_cli_prompt_mismatch(tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = _run(capsys, "-t", f"a={PLAIN}", "-t", f"b={FIX / 'car_mismatch.jsonl'}", "--out", str(out))
    assert rc == 2
    assert "car_mismatch.jsonl:3: field 'messages'" in err and "'p3' differs from teacher 'a'" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_missing_ids(tmp_path, capsys):
    short = tmp_path / "short.jsonl"
    short.write_text(PLAIN.read_text().splitlines()[0] + "\n")
    rc, err = _run(capsys, "-t", f"a={PLAIN}", "-t", f"b={short}", "--out", str(tmp_path / "o"))
    assert rc == 2 and "lacks 3 id(s) of teacher 'a'" in err


def test_cli_empty_file(tmp_path, capsys):
    rc, err = _run(
        capsys, "-t", f"a={PLAIN}", "-t", f"b={FIX / 'car_empty.jsonl'}", "--out", str(tmp_path / "o")
    )
    assert rc == 2 and "car_empty.jsonl" in err and "empty file" in err


def test_cli_reward_model_not_a_classifier(tmp_path, capsys):
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "config.json").write_text(
        json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    )
    rc, err = _run(
        capsys, "-t", f"a={PLAIN}", "-t", f"b={ODD}", "--reward", f"rm:{lm}", "--out", str(tmp_path / "o")
    )
    assert rc == 2
    assert "not a sequence-classification reward model (architectures: LlamaForCausalLM)" in err


def test_cli_other_bad_inputs(tmp_path, capsys):
    rc, err = _run(capsys, "-t", f"a={PLAIN}", "--out", str(tmp_path / "o"))
    assert rc == 2 and "at least two" in err
    rc, err = _run(
        capsys, "-t", f"a={PLAIN}", "-t", f"b={ODD}", "--reward", "bleu", "--out", str(tmp_path / "o")
    )
    assert rc == 2 and "unknown --reward 'bleu'" in err
    no_cons = tmp_path / "nocons.jsonl"
    no_cons.write_text(
        "\n".join(
            json.dumps({k: v for k, v in json.loads(ln).items() if k != "constraints"})
            for ln in PLAIN.read_text().splitlines()
        )
        + "\n"
    )
    with pytest.raises(InputError, match="nocons.jsonl:1: field 'constraints'"):
        score_teachers([load_teacher("a", no_cons), load_teacher("b", PLAIN)], _student(), VerifierReward())
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "p1", "prompt": "x", "response": ""}) + "\n")
    with pytest.raises(InputError, match="bad.jsonl:1: field 'response': empty response"):
        load_teacher("bad", bad)
