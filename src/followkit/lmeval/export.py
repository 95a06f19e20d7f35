"""`followkit export lm-eval DIR`: lm-evaluation-harness tasks scored by followkit's checkers, offline.

Writes DIR/followkit_bench.yaml with its data as DIR/followkit_bench.jsonl (lm-eval's
`dataset_path: json` with `data_files`), DIR/ifeval.yaml and DIR/ifbench.yaml when local files are
given (named followkit_ifeval / followkit_ifbench, so they do not clash with lm-eval's own ifeval),
and DIR/followkit_lm_eval.py (a copy of followkit.lmeval.metrics). Run with
`lm_eval --include_path DIR --tasks followkit_bench`.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from followkit.core.errors import InputError
from followkit.core.io import write_jsonl

METRICS_MODULE = "followkit_lm_eval"
"""The name the exported metrics module gets in DIR (the YAML's !function targets)."""

DEFAULT_MAX_GEN_TOKS = 1280
"""lm-eval's IFEval task uses 1280 new tokens; the exported tasks do too unless told otherwise."""

_METRICS = """metric_list:
  - metric: prompt_level_strict_acc
    aggregation: mean
    higher_is_better: true
  - metric: inst_level_strict_acc
    aggregation: !function {mod}.agg_inst_level_acc
    higher_is_better: true
  - metric: prompt_level_loose_acc
    aggregation: mean
    higher_is_better: true
  - metric: inst_level_loose_acc
    aggregation: !function {mod}.agg_inst_level_acc
    higher_is_better: true
"""


def task_yaml(task: str, data_file: Path, max_gen_toks: int, version: str) -> str:
    """One generate_until task over a local JSONL of IFEval-format rows."""
    return (
        f"# Written by `followkit export lm-eval`; scored by followkit {version}'s checkers.\n"
        f"task: {task}\n"
        "tag: followkit\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {json.dumps(str(data_file.resolve()))}\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        "num_fewshot: 0\n"
        "doc_to_text: prompt\n"
        "doc_to_target: 0\n"
        "generation_kwargs:\n"
        "  until: []\n"
        "  do_sample: false\n"
        "  temperature: 0.0\n"
        f"  max_gen_toks: {max_gen_toks}\n"
        f"process_results: !function {METRICS_MODULE}.process_results\n"
        + _METRICS.format(mod=METRICS_MODULE)
        + f"metadata:\n  version: 1.0\n  followkit: {json.dumps(version)}\n"
    )


def followkit_bench_rows() -> list[dict]:
    """followkit-bench as IFEval-format rows (kwargs as a JSON string: their types differ between ids)."""
    from followkit.evaluate.followkit_bench import FollowkitBench

    rows = []
    for it in FollowkitBench().load(None):
        rows.append(
            {
                "key": it.id,
                "prompt": it.messages[-1]["content"],
                "instruction_id_list": [c["id"] for c in it.constraints],
                "kwargs_json": json.dumps(
                    [c.get("kwargs") or {} for c in it.constraints], ensure_ascii=False
                ),
            }
        )
    return rows


def export_lm_eval(
    out_dir: str | Path,
    ifeval: str | None = None,
    ifbench: str | None = None,
    max_gen_toks: int = DEFAULT_MAX_GEN_TOKS,
) -> list[Path]:
    """Write the task folder; returns the files written. IFEval / IFBench files are validated first."""
    from followkit import __version__
    from followkit.core.io import iter_jsonl
    from followkit.evaluate.ifeval import ifeval_items

    if max_gen_toks < 1:
        raise InputError(f"--max-gen-toks must be at least 1, got {max_gen_toks}")
    local = {}
    for name, path in (("ifeval", ifeval), ("ifbench", ifbench)):
        if path is not None:
            p = Path(path)
            if not p.is_file():
                raise InputError(f"no such file (--{name} takes a local {name} JSONL)", path=str(p))
            ifeval_items(iter_jsonl(p), str(p))  # bad rows fail here, not inside lm_eval
            local[name] = p
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    data = out / "followkit_bench.jsonl"
    write_jsonl(data, followkit_bench_rows())
    (out / "followkit_bench.yaml").write_text(task_yaml("followkit_bench", data, max_gen_toks, __version__))
    written += [out / "followkit_bench.yaml", data]
    for name, p in local.items():
        yaml = out / f"{name}.yaml"
        yaml.write_text(task_yaml(f"followkit_{name}", p, max_gen_toks, __version__))
        written.append(yaml)
    metrics = out / f"{METRICS_MODULE}.py"
    metrics.write_text(resources.files("followkit.lmeval").joinpath("metrics.py").read_text("utf-8"))
    written.append(metrics)
    return written
