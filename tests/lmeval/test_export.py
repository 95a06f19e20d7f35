"""`followkit export lm-eval`: lm-eval 0.4.13 runs the exported tasks offline, and its scores equal followkit eval's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.core.io import read_jsonl
from followkit.evaluate.runner import EvalConfig, run_eval
from followkit.lmeval.export import export_lm_eval

IFEVAL = Path("/work/shared/data/ifeval")
METRICS = (
    "prompt_level_strict_acc",
    "inst_level_strict_acc",
    "prompt_level_loose_acc",
    "inst_level_loose_acc",
)
CANNED = [
    "",
    "Short answer.",
    '```json\n{"answer": "yes"}\n```',
    "<<A Title>>\n\nFirst paragraph, with a comma.\n\n***\n\nSecond paragraph. P.S. thanks",
    "HELLO WORLD, THIS IS ALL CAPITALS AND FAIRLY LONG " * 8,
]


def canned_response(prompt: str) -> str:
    return CANNED[sum(map(ord, prompt)) % len(CANNED)]


def injected_lm(respond):
    """An lm-eval LM that answers each generation request with respond(context): predictions injected."""
    from lm_eval.api.model import LM

    class Injected(LM):
        def generate_until(self, requests, disable_tqdm: bool = False):
            return [respond(r.args[0]) for r in requests]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

    return Injected()


def run_lm_eval(task_dir: Path, task: str, lm, limit: int | None, **kw):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    return simple_evaluate(
        model=lm,
        tasks=[task],
        task_manager=TaskManager(include_path=str(task_dir)),
        limit=limit,
        log_samples=True,
        **kw,
    )


def followkit_scores(benchmark: str, tmp_path: Path, respond, limit: int | None) -> dict:
    res = run_eval(
        EvalConfig(benchmark=benchmark, out=str(tmp_path / "fk"), limit=limit),
        backend=ScriptedBackend(lambda chat, i: respond(chat[-1]["content"])),
        progress=False,
    )
    return {
        "results": res["results"][benchmark.partition(":")[0]],
        "samples": {s["prompt"]: s for s in read_jsonl(tmp_path / "fk" / "samples.jsonl")},
    }


def assert_same(lm_res: dict, task: str, fk: dict, n: int) -> None:
    samples = lm_res["samples"][task]
    assert len(samples) == n == len(fk["samples"])
    for s in samples:
        mine = fk["samples"][s["doc"]["prompt"]]  # same prompt
        assert s["filtered_resps"][0] == mine["response"]  # same response
        assert s["prompt_level_strict_acc"] == mine["followed"]["strict"]
        assert s["prompt_level_loose_acc"] == mine["followed"]["loose"]
        assert s["inst_level_strict_acc"] == mine["verdicts"]["strict"]
        assert s["inst_level_loose_acc"] == mine["verdicts"]["loose"]
    agg = lm_res["results"][task]
    for m in METRICS:
        assert agg[f"{m},none"] == pytest.approx(fk["results"][m]), m


def test_export_writes_tasks_data_and_metrics_module(tmp_path):
    written = export_lm_eval(tmp_path / "tasks", ifeval=str(IFEVAL / "input_data.jsonl"), max_gen_toks=64)
    names = sorted(p.name for p in written)
    assert names == ["followkit_bench.jsonl", "followkit_bench.yaml", "followkit_lm_eval.py", "ifeval.yaml"]
    yaml = (tmp_path / "tasks" / "followkit_bench.yaml").read_text()
    assert "task: followkit_bench\n" in yaml and "dataset_path: json\n" in yaml
    assert f'test: "{(tmp_path / "tasks" / "followkit_bench.jsonl").resolve()}"' in yaml
    assert "max_gen_toks: 64\n" in yaml
    assert "process_results: !function followkit_lm_eval.process_results" in yaml
    row = read_jsonl(tmp_path / "tasks" / "followkit_bench.jsonl")[0]
    assert set(row) == {"key", "prompt", "instruction_id_list", "kwargs_json"}


def test_export_rejects_a_bad_ifeval_file_before_writing(tmp_path):
    from followkit.core.errors import InputError

    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"key": 1, "prompt": "x", "instruction_id_list": ["no:such"], "kwargs": [{}]}) + "\n"
    )
    with pytest.raises(InputError, match="bad.jsonl:1"):
        export_lm_eval(tmp_path / "tasks", ifeval=str(bad))
    assert not (tmp_path / "tasks").exists()


def test_lm_eval_scores_injected_predictions_as_followkit_eval_does(tmp_path):
    task_dir = tmp_path / "tasks"
    export_lm_eval(task_dir)
    limit = 40
    lm_res = run_lm_eval(task_dir, "followkit_bench", injected_lm(canned_response), limit)
    fk = followkit_scores("followkit-bench", tmp_path, canned_response, limit)
    assert_same(lm_res, "followkit_bench", fk, limit)
    assert 0 < lm_res["results"]["followkit_bench"]["inst_level_loose_acc,none"] < 1  # a mix of verdicts


def test_ifeval_task_on_gpt4_responses_matches_followkit_eval(tmp_path):
    task_dir = tmp_path / "tasks"
    data = IFEVAL / "input_data.jsonl"
    export_lm_eval(task_dir, ifeval=str(data))
    answers = {
        r["prompt"]: r["response"]
        for r in read_jsonl(IFEVAL / "input_response_data_gpt4_20231107_145030.jsonl")
    }
    limit = 60
    lm_res = run_lm_eval(task_dir, "followkit_ifeval", injected_lm(answers.__getitem__), limit)
    fk = followkit_scores(f"ifeval:{data}", tmp_path, answers.__getitem__, limit)
    assert_same(lm_res, "followkit_ifeval", fk, limit)


@pytest.mark.slow
def test_lm_eval_hf_on_the_embedded_model_scores_as_followkit(tmp_path):
    """lm_eval --model hf on SmolLM2 (offline, 4 prompts, 24 new tokens); followkit scores its responses the same."""
    from followkit.models import embedded_dir

    model_dir = embedded_dir()
    if not (Path(model_dir) / "config.json").is_file():
        pytest.skip("the embedded model folder is not built")
    task_dir = tmp_path / "tasks"
    export_lm_eval(task_dir, max_gen_toks=24)
    lm_res = run_lm_eval(
        task_dir,
        "followkit_bench",
        "hf",
        4,
        model_args=f"pretrained={model_dir},dtype=float32",
        apply_chat_template=True,
        batch_size=1,
        device="cpu",
    )
    responses = {s["doc"]["prompt"]: s["filtered_resps"][0] for s in lm_res["samples"]["followkit_bench"]}
    assert len(responses) == 4 and any(r.strip() for r in responses.values())
    fk = followkit_scores("followkit-bench", tmp_path, responses.__getitem__, 4)
    assert_same(lm_res, "followkit_bench", fk, 4)
