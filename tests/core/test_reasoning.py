"""Reasoning traces split off before scoring: the splitter, verify and eval on Qwen3-style files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.constraints.verify import load_items, summarize, verify_items
from followkit.core.reasoning import kept_trace_warning, parse_markers, split_reasoning, trace_summary
from followkit.evaluate.runner import EvalConfig, run_eval

# A trace that breaks most IFEval constraints: commas, capitals, German, a title, a P.S., JSON, quotes.
TRACE = (
    "Okay, THE USER WANTS an answer; let me think. Ich denke, dass die Antwort lang sein muss, "
    'und "Zitate" auch. <<A Title>> {"json": 1} *** P.S. one, two, three! SECTION 1 Section 2'
)


def traced(response: str, i: int) -> str:
    """A Qwen3-style answer: the trace opened by the model, or opened by the chat template (no open tag)."""
    if i % 2:
        return f"{TRACE}\n</think>\n\n{response}"
    return f"<think>\n{TRACE}\n</think>\n\n{response}"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("<think>a, B</think>\n\nhello", ("a, B", "hello", "closed")),
        ("  \n<think>\nx\n</think>answer", ("x", "answer", "closed")),
        ("a, B</think> hi", ("a, B", "hi", "closed")),  # Qwen3: the template opened the trace
        ("<think>never closed, CAPS", ("never closed, CAPS", "", "unclosed")),
        ("<think></think>\n\nempty trace", ("", "empty trace", "closed")),
        ("plain answer", (None, "plain answer", "none")),
        ("an answer that mentions <think> late", (None, "an answer that mentions <think> late", "none")),
        ("x <think>y</think> z", (None, "x <think>y</think> z", "none")),
        ("", (None, "", "none")),
    ],
)
def test_split_reasoning(text: str, want: tuple) -> None:
    assert split_reasoning(text) == want


def test_other_markers() -> None:
    markers = parse_markers("<|begin_of_thought|>,<|end_of_thought|>")
    text = "<|begin_of_thought|>hmm, YES<|end_of_thought|> ok"
    assert split_reasoning(text, markers) == ("hmm, YES", "ok", "closed")
    assert split_reasoning(text)[2] == "none"  # the default markers do not see it
    for bad in ("<think>", "a,b,c", ",x", "x,x"):
        with pytest.raises(ValueError, match="OPEN,CLOSE"):
            parse_markers(bad)


def test_trace_summary_and_warning() -> None:
    s = trace_summary(["closed", "none", "unclosed", "none"], "keep", ("<think>", "</think>"))
    assert (s["with_trace"], s["with_trace_share"], s["unclosed"], s["unclosed_share"]) == (2, 0.5, 1, 0.25)
    assert "2 of 4 answers hold a reasoning trace" in kept_trace_warning(s)
    assert kept_trace_warning({**s, "setting": "strip"}) is None


@pytest.fixture(scope="module")
def ifeval_files(shared: Path, tmp_path_factory) -> dict[str, Path]:
    """The IFEval GPT-4 responses (first 120) as published, with traces, and with unclosed traces."""
    src = shared / "ifeval" / "input_response_data_gpt4_20231107_145030.jsonl"
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()[:120]]
    tmp = tmp_path_factory.mktemp("qwen3")
    out = {}
    for name, fn in (
        ("clean", lambda r, i: r),
        ("traced", traced),
        ("unclosed", lambda r, i: f"<think>\n{TRACE}\n{r}"),
    ):
        path = tmp / f"{name}.jsonl"
        path.write_text(
            "".join(
                json.dumps({"prompt": r["prompt"], "response": fn(r["response"], i)}) + "\n"
                for i, r in enumerate(rows)
            ),
            encoding="utf-8",
        )
        out[name] = path
    out["prompts"] = shared / "ifeval" / "input_data.jsonl"
    return out


def _scores(path: Path, prompts: Path, reasoning: str = "strip") -> dict:
    items = load_items(path, prompts, missing=[], reasoning=reasoning)
    return {m: summarize(items, v) for m, v in verify_items(items).items()}, items


def test_verify_traced_file_scores_as_the_clean_file(ifeval_files: dict[str, Path]) -> None:
    clean, _ = _scores(ifeval_files["clean"], ifeval_files["prompts"])
    strip, items = _scores(ifeval_files["traced"], ifeval_files["prompts"])
    assert strip == clean
    assert all(it.reasoning == TRACE and it.reasoning_status == "closed" for it in items)
    kept, _ = _scores(ifeval_files["traced"], ifeval_files["prompts"], reasoning="keep")
    # the trace breaks constraints: scored with it, the same answers score lower
    assert kept["strict"]["prompt_level"]["acc"] < clean["strict"]["prompt_level"]["acc"] - 0.1


def test_verify_unclosed_trace_follows_nothing(ifeval_files: dict[str, Path]) -> None:
    scores, items = _scores(ifeval_files["unclosed"], ifeval_files["prompts"])
    for mode in ("strict", "loose"):
        assert scores[mode]["prompt_level"]["correct"] == 0
        assert scores[mode]["instruction_level"]["correct"] == 0
    assert {it.reasoning_status for it in items} == {"unclosed"}


def test_verify_cli_records_the_setting(ifeval_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "v"
    cmd = [sys.executable, "-m", "followkit.cli", "verify", str(ifeval_files["traced"])]
    cmd += ["--prompts", str(ifeval_files["prompts"]), "--out", str(out), "--mode", "strict"]
    done = subprocess.run(cmd + ["--reasoning", "keep"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "120 of 120 answers hold a reasoning trace" in done.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["reasoning"]["setting"] == "keep" and doc["reasoning"]["with_trace_share"] == 1.0
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "warning" not in done.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["reasoning"] == {
        "setting": "strip",
        "markers": ["<think>", "</think>"],
        "n": 120,
        "with_trace": 120,
        "with_trace_share": 1.0,
        "unclosed": 0,
        "unclosed_share": 0.0,
    }
    row = json.loads((out / "verdicts_strict.jsonl").read_text().splitlines()[0])
    assert row["reasoning"] == TRACE and not row["response"].startswith("<think>")


def _eval(ifeval_files: dict[str, Path], out: Path, answer, **cfg) -> dict:
    by_prompt = {
        json.loads(line)["prompt"]: json.loads(line)["response"]
        for line in ifeval_files["clean"].read_text().splitlines()
    }
    prompts = [json.loads(line) for line in ifeval_files["prompts"].read_text().splitlines()]
    index = {r["prompt"]: i for i, r in enumerate(prompts)}
    data = out.parent / "input_data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in prompts if r["prompt"] in by_prompt))

    def student(chat, _):
        prompt = chat[-1]["content"]
        return answer(by_prompt[prompt], index[prompt])

    config = EvalConfig(benchmark=f"ifeval:{data}", out=str(out), cache=False, **cfg)
    return run_eval(config, backend=ScriptedBackend(student), progress=False)


def test_eval_traced_answers_score_as_clean(ifeval_files: dict[str, Path], tmp_path: Path) -> None:
    clean = _eval(ifeval_files, tmp_path / "clean", lambda r, i: r)
    strip = _eval(ifeval_files, tmp_path / "strip", traced)
    assert strip["results"] == clean["results"]
    assert strip["reasoning"]["with_trace_share"] == 1.0 and clean["reasoning"]["with_trace"] == 0
    sample = json.loads((tmp_path / "strip" / "samples.jsonl").read_text().splitlines()[0])
    assert sample["reasoning"] == TRACE and sample["reasoning_status"] == "closed"
    assert "<think>" not in sample["response"] and "</think>" not in sample["response"]
    kept = _eval(ifeval_files, tmp_path / "keep", traced, reasoning="keep")
    assert (
        kept["results"]["ifeval"]["prompt_level_strict_acc"]
        < clean["results"]["ifeval"]["prompt_level_strict_acc"]
    )
    assert kept["config"]["reasoning"] == "keep"


def test_eval_unclosed_trace_follows_nothing(ifeval_files: dict[str, Path], tmp_path: Path) -> None:
    res = _eval(ifeval_files, tmp_path / "u", lambda r, i: f"<think>{TRACE}\n{r}")
    block = res["results"]["ifeval"]
    assert block["prompt_level_loose_acc"] == 0.0 and block["inst_level_loose_acc"] == 0.0
    assert res["reasoning"]["unclosed_share"] == 1.0


def test_eval_other_markers(ifeval_files: dict[str, Path], tmp_path: Path) -> None:
    clean = _eval(ifeval_files, tmp_path / "clean", lambda r, i: r)
    res = _eval(
        ifeval_files,
        tmp_path / "m",
        lambda r, i: f"[[plan]]{TRACE}[[/plan]]{r}",
        reasoning_markers="[[plan]],[[/plan]]",
    )
    assert res["results"] == clean["results"]
    assert res["reasoning"]["markers"] == ["[[plan]]", "[[/plan]]"]
