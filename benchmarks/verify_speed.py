"""Verification speed: followkit vs lm-eval's IFEval (`lm_eval.tasks.ifeval`) on the same rows.

One command:  .venv/bin/python benchmarks/verify_speed.py [--rows 20000]

Both verify the 541 GPT-4 IFEval responses (../shared/data/ifeval), repeated to at least
--rows rows, strict and loose, in this one run. lm-eval's module fetches NLTK's punkt_tab at
import, which fails offline, so we write a punkt_tab folder from the packaged Punkt English model
(`punkt` package) into a temp dir and point NLTK_DATA at it. langdetect's seed is pinned for
both (followkit pins its own; lm-eval uses the global DetectorFactory.seed = 0), then the
verdicts are asserted identical, except the two rows where the reference itself is random
(keywords:letter_frequency with a non-letter, IFEval keys 1122 and 1129; see
followkit.constraints.ifeval.LETTER_FREQUENCY_NON_LETTER). Prints rows/s and the ratio last.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

RANDOM_IN_REFERENCE = {1122, 1129}  # keys whose reference verdict draws a random letter


def build_punkt_tab(root: Path) -> Path:
    """Write NLTK's punkt_tab/english files from the packaged Punkt English parameters."""
    import punkt

    params = punkt.load_model("english")
    lang = root / "tokenizers" / "punkt_tab" / "english"
    lang.mkdir(parents=True, exist_ok=True)
    files = {
        "collocations.tab": [f"{a}\t{b}" for a, b in sorted(params.collocations)],
        "sent_starters.txt": sorted(params.sent_starters),
        "abbrev_types.txt": sorted(params.abbrev_types),
        "ortho_context.tab": [f"{k}\t{v}" for k, v in sorted(params.ortho_context.items())],
    }
    for name, lines in files.items():
        (lang / name).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    return root


def lm_eval_verdicts(rows: list[dict]) -> tuple[list[list[bool]], list[list[bool]], float]:
    """lm-eval's strict and loose verdicts for every row, single process, and the seconds taken."""
    from lm_eval.tasks.ifeval import utils as ifeval_utils

    t0 = time.perf_counter()
    strict, loose = [], []
    for r in rows:
        inp = ifeval_utils.InputExample(
            key=r["key"], instruction_id_list=r["instruction_id_list"], prompt=r["prompt"], kwargs=r["kwargs"]
        )
        strict.append(
            ifeval_utils.test_instruction_following_strict(inp, r["response"]).follow_instruction_list
        )
        loose.append(
            ifeval_utils.test_instruction_following_loose(inp, r["response"]).follow_instruction_list
        )
    return strict, loose, time.perf_counter() - t0


def _clear_caches() -> None:
    from followkit.constraints import ifeval, text

    for fn in (
        text.count_sentences,
        text.count_words,
        ifeval.detect_language,
        text.count_capital_words,
    ):
        fn.cache_clear()


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def followkit_verdicts(path: Path, workers: int) -> tuple[dict[str, list[list[bool]]], float, float, float]:
    """followkit's verdicts, the seconds spent reading+validating and verifying, and the CPU seconds used."""
    from followkit.constraints.verify import load_items, verify_items

    _clear_caches()  # every run starts cold
    c0 = _cpu_seconds()
    t0 = time.perf_counter()
    items = load_items(path)
    t1 = time.perf_counter()
    out = verify_items(items, ("strict", "loose"), workers=workers)
    return out, t1 - t0, time.perf_counter() - t1, _cpu_seconds() - c0


def _line(label: str, rows: int, seconds: float, note: str = "") -> str:
    return f"{label:<44} {seconds:8.2f} s {rows / seconds:10.1f} rows/s{note}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000, help="verify at least this many rows")
    args = ap.parse_args()

    from followkit.core.paths import shared_data

    data = shared_data()
    if data is None:
        print("../shared/data is not present: nothing to benchmark", file=sys.stderr)
        return 2
    src = data / "ifeval"
    prompts = [json.loads(line) for line in (src / "input_data.jsonl").open(encoding="utf-8")]
    responses = {}
    for line in (src / "input_response_data_gpt4_20231107_145030.jsonl").open(encoding="utf-8"):
        rec = json.loads(line)
        responses[rec["prompt"]] = rec["response"]
    base = [p | {"response": responses[p["prompt"]]} for p in prompts]
    reps = -(-args.rows // len(base))
    rows = base * reps

    with tempfile.TemporaryDirectory(prefix="fk_bench_") as tmp:
        tmp = Path(tmp)
        nltk_data = build_punkt_tab(tmp / "nltk_data")
        os.environ["NLTK_DATA"] = str(nltk_data)
        import langdetect

        langdetect.DetectorFactory.seed = 0  # lm-eval's detector reads the global seed
        data_file = tmp / "rows.jsonl"
        with data_file.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        unique_file = tmp / "unique.jsonl"
        with unique_file.open("w", encoding="utf-8") as fh:
            for r in base:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")

        print(
            f"data: {len(base)} IFEval GPT-4 responses x {reps} = {len(rows)} rows, strict + loose",
            flush=True,
        )
        c0 = _cpu_seconds()
        ref_strict, ref_loose, t_ref = lm_eval_verdicts(rows)
        note = f"  (CPU {_cpu_seconds() - c0:.2f} s)"
        print(_line("lm-eval (lm_eval.tasks.ifeval), 1 process", len(rows), t_ref, note), flush=True)
        runs = {}
        for workers in (1, 2):
            fk, t_load, t_verify, cpu = followkit_verdicts(data_file, workers)
            runs[workers] = (fk, t_load + t_verify)
            note = f"  (read+validate {t_load:.2f} s, verify {t_verify:.2f} s; CPU {cpu:.2f} s)"
            print(
                _line(f"followkit verify --workers {workers}", len(rows), t_load + t_verify, note), flush=True
            )
        fku, tu_load, tu_verify, _ = followkit_verdicts(unique_file, workers=1)
        print(_line("followkit verify, the 541 rows once, cold", len(base), tu_load + tu_verify))
        t_ref_unique = t_ref * len(base) / len(rows)
        print(
            f"  (on unique rows alone, no repeats to cache: {t_ref_unique / (tu_load + tu_verify):.1f}x lm-eval)"
        )
        fk1, t1 = runs[1]
        fk2, t2 = runs[2]

        compared = excluded = 0
        for run, run_rows in ((runs[1][0], rows), (runs[2][0], rows), (fku, base)):
            for mode, ref in (("strict", ref_strict), ("loose", ref_loose)):
                for r, got, want in zip(run_rows, run[mode], ref, strict=False):
                    for cid, a, b in zip(r["instruction_id_list"], got, want, strict=True):
                        if r["key"] in RANDOM_IN_REFERENCE and cid == "keywords:letter_frequency":
                            excluded += 1  # lm-eval draws a random letter here
                            continue
                        assert a == b, (
                            f"verdicts differ on key {r['key']} {cid} ({mode}): followkit {a}, lm-eval {b}"
                        )
                        compared += 1
        print(
            f"verdicts identical on {compared} instruction verdicts ({excluded} excluded: random in lm-eval)"
        )
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} during the run (wall time is shared)")
        t1, t2 = runs[1][1], runs[2][1]
        print(f"scaling, --workers 2 vs 1: {t1 / t2:.2f}x")
        print(f"ratio, followkit (1 worker) vs lm-eval (1 process), rows/s: {t_ref / t1:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
