"""`followkit eval` with scripted models: result files, resume, failures, judged benchmarks, bad input."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from followkit.backends.cache import CachedBackend, RequestCache
from followkit.backends.scripted import ScriptedBackend
from followkit.core.errors import BackendError, InputError
from followkit.core.io import file_sha256
from followkit.evaluate.report import render_markdown
from followkit.evaluate.runner import EvalConfig, run_eval, with_system

ROWS = [
    {
        "key": 11,
        "prompt": "Reply in lowercase.",
        "instruction_id_list": ["change_case:english_lowercase"],
        "kwargs": [{}],
    },
    {
        "key": 12,
        "prompt": "No commas please.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    },
    {
        "key": 13,
        "prompt": "Lowercase and no commas.",
        "instruction_id_list": ["change_case:english_lowercase", "punctuation:no_comma"],
        "kwargs": [{}, {}],
    },
    {
        "key": 14,
        "prompt": "At least 3 words.",
        "instruction_id_list": ["length_constraints:number_words"],
        "kwargs": [{"relation": "at least", "num_words": 3}],
    },
    {
        "key": 15,
        "prompt": "Lowercase again.",
        "instruction_id_list": ["change_case:english_lowercase"],
        "kwargs": [{}],
    },
]
# A scripted student: its answers are chosen so every verdict is known by hand.
ANSWERS = {
    "Reply in lowercase.": "all lowercase here",  # pass
    "No commas please.": "Sure, here:\nno commas at all",  # strict fail, loose pass (first line dropped)
    "Lowercase and no commas.": "Hello, World",  # fail, fail
    "At least 3 words.": "one two three",  # pass
    "Lowercase again.": "SHOUTING",  # fail
}


def student(chat, _):
    return ANSWERS[chat[-1]["content"]]


@pytest.fixture
def data(tmp_path) -> str:
    p = tmp_path / "ifeval.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return str(p)


def run(data: str, out: Path, backend=None, **kw):
    cfg = EvalConfig(benchmark=f"ifeval:{data}", out=str(out), **kw)
    return run_eval(cfg, backend=backend or ScriptedBackend(student), progress=False)


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_result_files(data, tmp_path):
    out = tmp_path / "out"
    res = run(data, out, batch_size=2)
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["results"] == res["results"]
    block = on_disk["results"]["ifeval"]
    # prompt strict [1,0,0,1,0] = 0.4; loose [1,1,0,1,0] = 0.6
    # instruction strict [1,0,0,0,1,0] = 2/6; loose [1,1,0,0,1,0] = 3/6
    assert (
        block["n"] == 5 and block["prompt_level_strict_acc_n"] == 5 and block["inst_level_strict_acc_n"] == 6
    )
    assert math.isclose(block["prompt_level_strict_acc"], 0.4) and math.isclose(
        block["prompt_level_loose_acc"], 0.6
    )
    assert math.isclose(block["inst_level_strict_acc"], 2 / 6) and math.isclose(
        block["inst_level_loose_acc"], 0.5
    )
    # se of [1,0,0,1,0]: sample var 0.3, se sqrt(0.3 / 5)
    assert math.isclose(block["prompt_level_strict_acc_stderr"], math.sqrt(0.3 / 5))
    assert on_disk["data_sha256"] == file_sha256(data)
    assert on_disk["model"] == "scripted" and "chat_template_sha256" in on_disk
    assert on_disk["n_samples"] == {"ifeval": {"original": 5, "effective": 5, "scored": 5}}
    assert on_disk["config"]["sampling"]["temperature"] == 0.0 and on_disk["versions"]["python"]
    by_k = on_disk["breakdowns"]["ifeval"]["prompt-level accuracy by number of constraints"]
    assert by_k["2"]["strict"] == {"value": 0.0, "stderr": None, "n": 1}  # NaN written as null

    samples = read(out / "samples.jsonl")
    assert [s["id"] for s in samples] == ["11", "12", "13", "14", "15"]
    s = samples[1]
    assert s["messages"] == [{"role": "user", "content": "No commas please."}]
    assert s["response"] == "Sure, here:\nno commas at all"
    assert s["verdicts"] == {"strict": [False], "loose": [True]} and s["followed"] == {
        "strict": False,
        "loose": True,
    }
    assert s["constraints"] == [{"id": "punctuation:no_comma", "kwargs": {}}]

    report = (out / "report.md").read_text()
    assert "| ifeval | prompt_level_strict_acc (%) | 40.0 | 24.5 | 5 |" in report
    assert "## ifeval: instruction-level accuracy by constraint id" in report
    assert "| punctuation:no_comma | 0.0 ± 0.0 (n=2) | 50.0 ± 50.0 (n=2) |" in report
    assert report == render_markdown(on_disk)


def test_limit_and_system_prompt_file(data, tmp_path):
    sp = tmp_path / "sys.txt"
    sp.write_text("Be brief.\n", encoding="utf-8")
    seen = []

    def spy(chat, i):
        seen.append(chat)
        return student(chat, i)

    res = run(data, tmp_path / "o", ScriptedBackend(spy), limit=2, system_prompt=f"@{sp}")
    assert res["n_samples"]["ifeval"]["effective"] == 2 and len(seen) == 2
    assert seen[0] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Reply in lowercase."},
    ]
    assert read(tmp_path / "o" / "samples.jsonl")[0]["messages"] == seen[0]
    assert with_system([{"role": "system", "content": "old"}, {"role": "user", "content": "u"}], "new") == [
        {"role": "system", "content": "new"},
        {"role": "user", "content": "u"},
    ]
    with pytest.raises(InputError, match="no such file"):
        run(data, tmp_path / "o2", system_prompt=f"@{tmp_path / 'nope.txt'}")


def test_cache_counts_and_resume_from_samples(data, tmp_path):
    cache = RequestCache(tmp_path / "cache.sqlite")
    first = run(data, tmp_path / "a", CachedBackend(ScriptedBackend(student), cache))
    assert first["cache"] == {"cached": 0, "new": 5, "failed": 0} and first["resumed"] == 0
    # same requests, new folder: all from the cache
    second = run(data, tmp_path / "b", CachedBackend(ScriptedBackend(student), cache))
    assert second["cache"] == {"cached": 5, "new": 0, "failed": 0}
    assert (tmp_path / "a" / "samples.jsonl").read_bytes() == (tmp_path / "b" / "samples.jsonl").read_bytes()
    # same folder again: every sample is already there, the model is not asked
    be = ScriptedBackend(student)
    third = run(data, tmp_path / "a", be)
    assert be.calls == 0 and third["resumed"] == 5
    assert third["results"] == first["results"]


def test_failed_items_are_retried_exactly_on_rerun(data, tmp_path):
    out = tmp_path / "out"
    flaky_prompts = {"No commas please.", "At least 3 words."}

    def flaky(chat, i):
        if chat[-1]["content"] in flaky_prompts:
            raise ConnectionError("connection reset")
        return student(chat, i)

    res = run(data, out, ScriptedBackend(flaky), batch_size=2)
    assert res["n_failed"] == 2 and res["n_samples"]["ifeval"]["scored"] == 3
    assert [f["id"] for f in read(out / "failures.jsonl")] == ["12", "14"]
    assert "connection reset" in read(out / "failures.jsonl")[0]["error"]
    asked = []

    def healthy(chat, i):
        asked.append(chat[-1]["content"])
        return student(chat, i)

    res2 = run(data, out, ScriptedBackend(healthy), batch_size=2)
    assert sorted(asked) == sorted(flaky_prompts) and res2["n_failed"] == 0
    assert not (out / "failures.jsonl").exists()
    clean = tmp_path / "clean"
    run(data, clean, batch_size=2)
    assert (out / "samples.jsonl").read_bytes() == (clean / "samples.jsonl").read_bytes()


def test_torn_samples_line_is_repaired(data, tmp_path):
    out = tmp_path / "out"
    run(data, out)
    full = (out / "samples.jsonl").read_bytes()
    lines = full.splitlines(keepends=True)
    (out / "samples.jsonl").write_bytes(b"".join(lines[:2]) + lines[2][:25])  # a kill mid-write
    be = ScriptedBackend(student)
    run(data, out, be)
    assert be.calls == 3 and (out / "samples.jsonl").read_bytes() == full


def test_all_failed_is_one_error(data, tmp_path):
    def down(chat, i):
        raise ConnectionError("connection refused")

    with pytest.raises(BackendError, match="every request failed.*connection refused"):
        run(data, tmp_path / "o", ScriptedBackend(down))


def test_out_dir_of_another_run_is_refused(data, tmp_path):
    run(data, tmp_path / "o")
    with pytest.raises(InputError, match=r"o: holds samples of another run \(max_tokens differ\)"):
        run(data, tmp_path / "o", max_tokens=7)
    run(data, tmp_path / "o", limit=3)  # a smaller limit is the same run


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"limit": 0}, r"^--limit: Input should be greater than or equal to 1$"),
        ({"temperature": -1.0}, r"^--temperature: Input should be greater than or equal to 0"),
        ({"dtype": "int8"}, r"^--dtype: Input should be 'auto', 'float32', 'bfloat16' or 'float16'$"),
        ({"cache": False, "refresh_cache": True}, r"^--refresh-cache and --no-cache cannot be combined$"),
    ],
)
def test_config_validation(kw, msg, tmp_path):
    from followkit.core.settings import load_settings

    with pytest.raises(InputError, match=msg):  # given as flags
        load_settings(EvalConfig, flags={"benchmark": "ifeval", **kw})
    cfg = tmp_path / "eval.yaml"
    cfg.write_text("benchmark: ifeval\n" + "".join(f"{k}: {str(v).lower()}\n" for k, v in kw.items()))
    where = rf"{cfg}:2: field '{next(iter(kw))}': " if len(kw) == 1 else ""
    with pytest.raises(InputError, match=re.escape(where) if where else msg):  # given in a config file
        load_settings(EvalConfig, cfg)


# --- judged benchmark --------------------------------------------------------------------------

TRACE = [
    {
        "id": "t1",
        "messages": [{"role": "user", "content": "写一句问候\n1. 不超过10个字\n"}],
        "constraints_splits": ["1. 不超过10个字"],
        "levels2": ["数值约束"],
    },
    {
        "id": "t2",
        "messages": [{"role": "user", "content": "写诗\n1. 五言\n2. 提到月亮\n"}],
        "constraints_splits": ["1. 五言", "2. 提到月亮"],
        "levels2": ["语言特征约束", "包含约束"],
    },
]


def scripted_judge(chat, _):
    """Scores by the response: 'good' gets 10s; anything else 10 then 5; an injection text is quoted."""
    prompt = chat[0]["content"]
    n = int(re.search(r"（共 (\d+) 条）", prompt).group(1))
    good = "\ngood\n" in prompt
    scores = [10] * n if good else [10] + [5] * (n - 1) if n > 1 else [3]
    fine = ", ".join(f'{{"{i}": {s}}}' for i, s in enumerate(scores, start=1))
    return f"逐条分析：……\nFine Grained Score: [{fine}]\nConstraints Overall Score: [[{min(scores)}]]"


def test_trace_with_scripted_judge(tmp_path):
    p = tmp_path / "trace.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in TRACE), encoding="utf-8")
    model = ScriptedBackend(lambda chat, i: "good" if "问候" in chat[-1]["content"] else "bad")
    cfg = EvalConfig(benchmark=f"trace:{p}", out=str(tmp_path / "o"))
    with pytest.raises(InputError, match="scored by an LLM judge: pass --judge"):
        run_eval(cfg, backend=model, progress=False)
    res = run_eval(cfg, backend=model, judge_backend=ScriptedBackend(scripted_judge), progress=False)
    block = res["results"]["trace"]
    assert block["if_s"] == 1.0 and block["if_s_n"] == 1
    assert block["if_m"] == 0.0 and block["if_m_n"] == 1
    assert block["constraint_acc"] == 2 / 3 and block["overall_score"] == 7.5
    s = read(tmp_path / "o" / "samples.jsonl")[1]
    assert [c["score"] for c in s["constraints"]] == [10, 5] and s["followed"] == {"strict": False}
    assert s["verdicts"]["strict"] == [True, False] and "Fine Grained Score" in s["judge"]["raw"]
    types = res["breakdowns"]["trace"]["constraint-level accuracy (score 10) by TRACE type"]
    assert types["content"]["judged"]["value"] == 0.5 and types["style"]["judged"]["value"] == 1.0


# --- the command line: bad input is one line, exit 2 -------------------------------------------


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "followkit.cli", "eval", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, msg",
    [
        (
            ["--benchmark", "ifevl"],
            "unknown benchmark 'ifevl' (did you mean ifeval?); known: ifeval, ifbench",
        ),
        (["--benchmark", "ifeval:/nonexistent/x.jsonl"], "/nonexistent/x.jsonl: no such file"),
        (["--benchmark", "ifeval"], "--benchmark ifeval:PATH"),
        (["--model", "gpt4", "--benchmark", "ifeval:DATA"], "unknown model spec 'gpt4'"),
        (["--benchmark", "trace:DATA", "--judge", "embedded"], "ifeval.jsonl:1: field 'id': missing"),
    ],
)
def test_cli_bad_input(data, tmp_path, args, msg):
    args = [a.replace("DATA", data) for a in args] + ["--out", str(tmp_path / "o")]
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0]


def test_ifeval_reference_figures_through_the_runner(shared, tmp_path):
    """GPT-4's published responses, replayed by a scripted model, give the reference evaluator's verdicts."""
    d = shared / "ifeval"
    replies = {}
    for line in (d / "input_response_data_gpt4_20231107_145030.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        replies[r["prompt"]] = r["response"]
    res = run_eval(
        EvalConfig(benchmark=f"ifeval:{d / 'input_data.jsonl'}", out=str(tmp_path / "o"), batch_size=100),
        backend=ScriptedBackend(lambda chat, _: replies[chat[-1]["content"]]),
        progress=False,
    )
    ref = {}
    for mode in ("strict", "loose"):
        for line in (d / f"eval_results_{mode}.jsonl").open(encoding="utf-8"):
            r = json.loads(line)
            ref[(mode, r["prompt"])] = r["follow_instruction_list"]
    mismatched = set()
    for s in read(tmp_path / "o" / "samples.jsonl"):
        for mode in ("strict", "loose"):
            if s["verdicts"][mode] != ref[(mode, s["prompt"])]:
                mismatched.add(s["id"])
    # keys 1122 and 1129 are random in the reference (letter_frequency with a non-letter)
    assert mismatched <= {"1122", "1129"}
    block = res["results"]["ifeval"]
    assert (
        abs(block["prompt_level_strict_acc"] * 541 - 416) <= 1
        and abs(block["inst_level_strict_acc"] * 834 - 697) <= 1
    )
    assert (
        abs(block["prompt_level_loose_acc"] * 541 - 429) <= 2
        and abs(block["inst_level_loose_acc"] * 834 - 712) <= 2
    )


def test_same_folder_other_data_is_refused(data, tmp_path):
    run(data, tmp_path / "o")
    other = tmp_path / "other.jsonl"
    other.write_text(
        Path(data).read_text(encoding="utf-8").replace("Reply in lowercase.", "Reply in LOWERCASE.")
    )
    with pytest.raises(InputError, match=r"data_sha256 differ"):
        run(str(other), tmp_path / "o")
    # the same bytes under another path name are the same data
    same = tmp_path / "sub" / "copy.jsonl"
    same.parent.mkdir()
    same.write_bytes(Path(data).read_bytes())
    assert run(str(same), tmp_path / "o")["resumed"] == 5


def test_judge_down_is_a_failure_retried_on_rerun(tmp_path):
    p = tmp_path / "trace.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in TRACE), encoding="utf-8")
    model = ScriptedBackend(lambda chat, i: "good" if "问候" in chat[-1]["content"] else "bad")
    cfg = EvalConfig(benchmark=f"trace:{p}", out=str(tmp_path / "o"))

    def judge_down(chat, _):
        if "写诗" in chat[0]["content"]:
            raise ConnectionError("judge unreachable")
        return scripted_judge(chat, _)

    res = run_eval(cfg, backend=model, judge_backend=ScriptedBackend(judge_down), progress=False)
    assert res["n_failed"] == 1 and [s["id"] for s in read(tmp_path / "o" / "samples.jsonl")] == ["t1"]
    assert "judge unreachable" in read(tmp_path / "o" / "failures.jsonl")[0]["error"]
    res = run_eval(cfg, backend=model, judge_backend=ScriptedBackend(scripted_judge), progress=False)
    assert res["n_failed"] == 0 and res["results"]["trace"]["if_m_n"] == 1
    assert [s["id"] for s in read(tmp_path / "o" / "samples.jsonl")] == ["t1", "t2"]


def test_empty_completions_are_scored_as_answers_that_follow_nothing(tmp_path):
    # Dropping them would raise the accuracy: IFEval scores an empty response as failing everything.
    from followkit.backends.scripted import ScriptedBackend
    from followkit.evaluate.runner import EvalConfig, run_eval

    calls = iter(range(100))
    res = run_eval(
        EvalConfig(benchmark="followkit-bench", out=str(tmp_path / "e"), limit=4),
        backend=ScriptedBackend(lambda chat, i: "" if next(calls) % 2 == 0 else "A short answer."),
        progress=False,
    )
    samples = [json.loads(x) for x in (tmp_path / "e" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and res["n_failed"] == 0 and res["n_empty_responses"] == 2
    empty = [s for s in samples if not s["response"]]
    assert len(empty) == 2 and all(not any(s["verdicts"]["strict"]) for s in empty)
