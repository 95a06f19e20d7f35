"""`followkit eval` as a library call: generate, verify or judge, and write the three result files.

Resumable: each scored sample is appended to DIR/samples.jsonl as its batch finishes (a SIGKILL
loses at most the batch in flight, and that from the request cache), and a rerun of the same
command skips the samples already there. Batches are aligned to the item list, so a resumed run
sends the model exactly the batches an uninterrupted run would, and its outputs are the same.
At the end samples.jsonl is rewritten in item order, so it equals an uninterrupted run's.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from followkit.backends.base import Backend, Chat, SamplingParams
from followkit.core.errors import BackendError, InputError
from followkit.core.io import AppendLog, file_sha256, text_sha256, write_json, write_jsonl
from followkit.core.manifest import versions
from followkit.core.progress import stage_progress
from followkit.core.reasoning import (
    DEFAULT_MARKERS_TEXT,
    kept_trace_warning,
    parse_markers,
    split_completion,
    trace_summary,
)
from followkit.core.records import EvalSample, Writes
from followkit.core.settings import Cache, Reasoning, ReasoningMarkers, RefreshCache, cli
from followkit.core.stats import Metric
from followkit.evaluate.base import Benchmark, EvalItem, MultiTurnBenchmark
from followkit.evaluate.registry import get_benchmark, parse_benchmark_spec

DEFAULT_BATCH = {"openai": 64, "vllm": 256}
"""Prompts per backend call when --batch-size is not given (local engines: LOCAL_CHUNK)."""
LOCAL_CHUNK = 64
"""Prompts per call to a local engine: it sorts them by length into its own batches (16 on CPU), so a
call several batches long wastes less on padding. Measured here: with 8 prompts per call, eval ran
36% slower than with 16 (one batch of 8 per call); 48 prompts, batch 16: 56.8 tokens/s, batch 8: 45.9."""

FINGERPRINT_FIELDS = (
    "model",
    "base_url",
    "benchmark_name",
    "data_sha256",
    "system_prompt",
    "judge",
    "judge_template",
    "max_tokens",
    "temperature",
    "top_p",
    "seed",
    "reasoning",
    "reasoning_markers",
)
"""Config fields that change a sample: an output folder with samples of other values is refused."""


class EvalConfig(BaseModel):
    """Settings of `followkit eval`; each is also a flag (followkit.core.settings)."""

    model_config = ConfigDict(extra="forbid")
    writes: ClassVar[Writes] = {"samples.jsonl": EvalSample}

    benchmark: str = Field(
        description="NAME[:PATH]: ifeval, ifbench, trace, followkit-bench, kcif, cfbench, complexbench, "
        "complexbench-en, infobench, followbench, multi-if or ifbench-multiturn",
        json_schema_extra=cli("--benchmark", "-b"),
    )
    model: str = Field(
        "embedded",
        description="embedded | hf:PATH | hf:ORG/NAME[@REVISION] | openai:NAME | vllm:PATH",
        json_schema_extra=cli("--model", "-m"),
    )
    base_url: str | None = Field(
        None, description="Server URL for openai:NAME (e.g. http://127.0.0.1:8000/v1)"
    )
    limit: int | None = Field(None, ge=1, description="Evaluate only the first N items")
    split: Literal["all", "dev", "test"] = Field(
        "all",
        description="Items by integer key: dev = even keys (may guide choices), test = odd keys (reported, "
        "never tuned on); applied before --limit",
    )
    system_prompt: str | None = Field(None, description="System prompt TEXT, or @FILE to read it")
    judge: str | None = Field(
        None, description="Judge model spec, for judged benchmarks (trace, cfbench, complexbench)"
    )
    judge_base_url: str | None = Field(None, description="Server URL for an openai:NAME judge")
    judge_template: str | None = Field(None, description="Judge prompt: en, zh or a template file")
    max_tokens: int = Field(512, ge=1, description="Most tokens per response")
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature; 0 is greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass (with temperature > 0)")
    seed: int = Field(0, description="Sampling seed (part of the cache key)")
    batch_size: int | None = Field(
        None, ge=1, description="Prompts per backend call (default: 64 local, openai 64, vllm 256)"
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = Field(
        None,
        description="Local engines: float32 (CPU default), bfloat16, float16, or auto (bfloat16 on a GPU "
        "or a CPU with native bfloat16, else float32)",
    )
    cache: Cache = True
    refresh_cache: RefreshCache = False
    out: str | None = Field(
        None,
        description="Output folder (default runs/eval/BENCH/MODEL)",
        json_schema_extra=cli("--out", "-o"),
    )
    semantics: Literal["reference", "corrected"] = Field(
        "reference",
        description="reference: score as the benchmark's authors' code does; corrected: followkit's "
        "reading where they differ (docs/deviations.md)",
    )
    reasoning: Reasoning = "strip"
    reasoning_markers: ReasoningMarkers = DEFAULT_MARKERS_TEXT

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        if self.judge_base_url and not self.judge:
            raise ValueError("--judge-base-url needs --judge MODEL")
        return self


SPLIT_PARITY = {"dev": 0, "test": 1}
"""The development / test halves of a keyed benchmark (IFEval's protocol: DESIGN 11)."""


def check_unique_ids(items: list[EvalItem], where: str) -> None:
    """Every benchmark item has its own id: samples and comparisons are matched by it."""
    seen: set[str] = set()
    for n, it in enumerate(items, start=1):
        if it.id in seen:
            raise InputError(f"duplicate item id '{it.id}' (item {n})", path=where, field="id")
        seen.add(it.id)


def split_items(items: list[EvalItem], split: str, where: str) -> list[EvalItem]:
    """The items of one half (dev: even integer keys, test: odd), or all of them."""
    if split == "all":
        return items
    bad = next((it.id for it in items if not it.id.lstrip("-").isdigit()), None)
    if bad is not None:
        raise InputError(f"--split {split} needs integer keys, and item '{bad}' has none", path=where)
    return [it for it in items if int(it.id) % 2 == SPLIT_PARITY[split]]


def read_text_arg(value: str | None) -> str | None:
    """A flag value given as TEXT or @FILE (the file's contents)."""
    if value is None or not value.startswith("@"):
        return value
    path = Path(value[1:])
    if not path.is_file():
        raise InputError("no such file (a flag value starting with @ names a file)", path=str(path))
    return path.read_text(encoding="utf-8").strip()


def with_system(messages: Chat, system_prompt: str | None) -> Chat:
    """The chat to send: the item's messages, with any system turn replaced by system_prompt if given."""
    if system_prompt is None:
        return [dict(m) for m in messages]
    return [{"role": "system", "content": system_prompt}] + [
        dict(m) for m in messages if m["role"] != "system"
    ]


def default_out(benchmark: str, model: str) -> Path:
    """runs/eval/<benchmark>/<model slug>."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model.replace(":", "-")).strip("_") or "model"
    return Path("runs") / "eval" / benchmark / slug[-80:]


def items_sha256(items: list[EvalItem]) -> str:
    """A stable hash of benchmark items (what was asked and how it is scored)."""
    return text_sha256(json.dumps([it.to_dict() for it in items], sort_keys=True, ensure_ascii=False))


def _chunk_size(cfg: EvalConfig) -> int:
    if cfg.batch_size:
        return cfg.batch_size
    return DEFAULT_BATCH.get(cfg.model.partition(":")[0], LOCAL_CHUNK)


def _check_out_dir(out: Path, fingerprint: dict[str, Any]) -> None:
    """Refuse to mix samples of a different run into an existing output folder."""
    cfg_file = out / "run_config.json"
    samples = out / "samples.jsonl"
    if cfg_file.exists() and samples.exists() and samples.stat().st_size > 0:
        try:
            old = json.loads(cfg_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            old = {}
        from followkit.core.redact import redact_obj

        stored = redact_obj(fingerprint)  # run_config.json holds the redacted values
        diff = [k for k in FINGERPRINT_FIELDS if old.get(k) != stored.get(k)]
        if diff:
            raise InputError(
                f"holds samples of another run ({', '.join(diff)} differ): pass another --out or delete the folder",
                path=str(out),
            )
    write_json(cfg_file, fingerprint)


def _clean(obj: Any) -> Any:
    """NaN and inf -> None, so results.json is valid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def metrics_block(name: str, metrics: dict[str, Metric], n: int) -> dict[str, Any]:
    """lm-eval-like results entry: metric, metric_stderr, metric_n, n."""
    block: dict[str, Any] = {"alias": name}
    for key, m in metrics.items():
        block[key] = m.value
        block[f"{key}_stderr"] = m.stderr
        block[f"{key}_n"] = m.n
    block["n"] = n
    return block


def _stats(backend: Backend | None) -> dict[str, int] | None:
    stats = getattr(backend, "cache_stats", None) if backend is not None else None
    return dict(stats) if isinstance(stats, dict) else None


def _ask_conversations(
    bench: MultiTurnBenchmark,
    todo: list[EvalItem],
    chats: dict[str, Chat],
    backend: Backend,
    judge: Backend | None,
    params: SamplingParams,
    reasoning: str,
    markers: tuple[str, str],
    log: AppendLog,
) -> tuple[list[dict[str, Any]], int]:
    """Ask a batch of conversations turn by turn (backends.turns.converse) and append each finished one to the log.

    A conversation with a failed request stops there, is reported, and is asked again from turn 1 on
    rerun (the request cache answers the turns that succeeded). Returns (failures, empty answers).
    """
    from followkit.backends.turns import converse

    later = [[bench.user_turn(it, k) for k in range(1, len(it.turns))] for it in todo]
    talks = converse(backend, [chats[it.id] for it in todo], later, params, reasoning, markers)  # type: ignore[arg-type]
    failures: list[dict[str, Any]] = sorted(
        (
            {"id": it.id, "turn": t.failed_turn, "error": t.error}
            for it, t in zip(todo, talks, strict=True)
            if t.error is not None
        ),
        key=lambda f: f["turn"],  # by turn, then item order: the order the requests failed in
    )
    live = [(it, t) for it, t in zip(todo, talks, strict=True) if t.error is None]
    if not live:
        return failures, 0
    records = bench.score_turns(
        [it for it, _ in live], [[r.answer for r in t.answers()] for _, t in live], judge
    )
    empty = 0
    for (it, talk), rec in zip(live, records, strict=True):
        if "error" in rec:
            failures.append({"id": it.id, "error": rec["error"]})
            continue
        turns = []
        for r, scored in zip(talk.answers(), rec["turns"], strict=True):
            kept = {"reasoning": r.trace} if r.trace is not None else {}
            turns.append({"response": r.answer, **kept, "reasoning_status": r.status, **scored})
            empty += not r.answer.strip()
        log.append(
            {
                "id": it.id,
                "messages": talk.chat,  # the chat the last answer replied to, as single-turn samples
                "response": talk.answers()[-1].answer,
                **rec,
                "turns": turns,
            }
        )
    return failures, empty


def run_eval(
    cfg: EvalConfig,
    *,
    backend: Backend | None = None,
    judge_backend: Backend | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Evaluate cfg.model on cfg.benchmark; writes results.json, samples.jsonl, report.md; returns the results."""
    from followkit.evaluate.report import write_report

    started = time.time()
    name, path = parse_benchmark_spec(cfg.benchmark)
    bench: Benchmark = get_benchmark(name)
    if cfg.judge_template is not None:
        if not hasattr(bench, "judge_template"):
            raise InputError(f"--judge-template: benchmark '{name}' is not judged")
        bench.judge_template = cfg.judge_template
    if bench.needs_judge and cfg.judge is None and judge_backend is None:
        raise InputError(
            f"benchmark '{name}' is scored by an LLM judge: pass --judge MODEL (e.g. openai:NAME)"
        )
    system_prompt = read_text_arg(cfg.system_prompt)
    bench.semantics = cfg.semantics
    bench.reasoning, bench.reasoning_markers = cfg.reasoning, parse_markers(cfg.reasoning_markers)

    items_all = bench.load(path)
    check_unique_ids(items_all, path or name)
    data_sha = file_sha256(path) if path and Path(path).is_file() else items_sha256(items_all)
    items = split_items(items_all, cfg.split, cfg.benchmark)
    items = items[: cfg.limit] if cfg.limit else items
    out = Path(cfg.out) if cfg.out else default_out(name, cfg.model)
    fingerprint = {
        **cfg.model_dump(),
        "benchmark_name": name,
        "system_prompt": system_prompt,
        "data_sha256": data_sha,
    }
    _check_out_dir(out, fingerprint)

    if backend is None:
        from followkit.backends import engine_options, load_backend

        backend = load_backend(
            cfg.model,
            base_url=cfg.base_url,
            cache=cfg.cache,
            refresh_cache=cfg.refresh_cache,
            **engine_options(cfg.model, batch_size=cfg.batch_size, dtype=cfg.dtype),
        )
    if judge_backend is None and cfg.judge == cfg.model and cfg.judge_base_url == cfg.base_url:
        judge_backend = backend  # one copy of the weights; judge requests differ, so caching is unaffected
    if judge_backend is None and cfg.judge is not None:
        from followkit.backends import load_backend

        judge_backend = load_backend(
            cfg.judge, base_url=cfg.judge_base_url, cache=cfg.cache, refresh_cache=cfg.refresh_cache
        )

    params = SamplingParams(
        n=1, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens, seed=cfg.seed
    )
    chats = {it.id: with_system(it.messages, system_prompt) for it in items}
    size = _chunk_size(cfg)
    markers = parse_markers(cfg.reasoning_markers)
    failures: list[dict[str, Any]] = []
    empty = 0  # empty completions in this run (scored as answers that follow nothing)
    log = AppendLog(out / "samples.jsonl", key="id")
    resumed = sum(1 for it in items if it.id in log)
    try:
        with stage_progress(f"eval {name}", total=len(items), enabled=progress) as bar:
            bar.advance(resumed, cached=resumed)
            for start in range(0, len(items), size):
                todo = [it for it in items[start : start + size] if it.id not in log]
                if not todo:
                    continue
                if isinstance(bench, MultiTurnBenchmark):
                    turn_fails, turn_empty = _ask_conversations(
                        bench, todo, chats, backend, judge_backend, params, cfg.reasoning, markers, log
                    )
                    failures += turn_fails
                    empty += turn_empty
                    bar.advance(len(todo), failed=len({f["id"] for f in turn_fails}))
                    continue
                reported = 0

                def tick(n: int) -> None:
                    nonlocal reported
                    reported += n
                    bar.advance(n)

                comps = backend.complete([chats[it.id] for it in todo], params, tick)
                # An empty completion is the model's answer and is scored (it fails every constraint,
                # as in IFEval); dropping it would raise the accuracy. The cache never keeps it, so a
                # run with --refresh-cache or a new cache asks again.
                ok = [
                    (it, c.texts[0], split_completion(c.texts[0], c.reasoning_of(0), cfg.reasoning, markers))
                    for it, c in zip(todo, comps, strict=True)
                    if c.ok
                ]
                failures += [
                    {"id": it.id, "error": c.error} for it, c in zip(todo, comps, strict=True) if not c.ok
                ]
                empty += sum(1 for _, text, _ in ok if not text.strip())
                bar.advance(
                    max(0, len(todo) - reported),
                    cached=sum(1 for c in comps if c.cached),
                    failed=len(todo) - len(ok),
                )
                if not ok:
                    continue
                # The benchmark scores the answer only; the trace is kept beside it in samples.jsonl.
                records = bench.score([it for it, _, _ in ok], [a for _, _, (a, _, _) in ok], judge_backend)
                for (it, _, (answer, trace, status)), rec in zip(ok, records, strict=True):
                    if "error" in rec:  # scoring failed (e.g. the judge is down): retried on rerun
                        failures.append({"id": it.id, "error": rec["error"]})
                        continue
                    kept = {"reasoning": trace} if trace is not None else {}
                    log.append(
                        {
                            "id": it.id,
                            "messages": chats[it.id],
                            "response": answer,
                            **kept,
                            "reasoning_status": status,
                            **rec,
                        }
                    )
    finally:
        log.close()

    samples = [log.done[it.id] for it in items if it.id in log.done]
    write_jsonl(out / "samples.jsonl", samples)
    fail_file = out / "failures.jsonl"
    if failures:
        write_jsonl(fail_file, failures)
    else:
        fail_file.unlink(missing_ok=True)
    if not samples:
        first = failures[0]["error"] if failures else "no samples"
        raise BackendError(f"every request failed ({len(failures)}), e.g.: {first}")

    metrics = bench.metrics(samples)
    answers = [t for s in samples for t in s["turns"]] if isinstance(bench, MultiTurnBenchmark) else samples
    traces = trace_summary([a.get("reasoning_status", "none") for a in answers], cfg.reasoning, markers)
    warning = kept_trace_warning(traces)
    if warning:
        import sys

        print(warning, file=sys.stderr)
    breakdowns = bench.breakdowns(samples)
    results = {
        "results": {name: metrics_block(name, metrics, len(samples))},
        "breakdowns": {
            name: {
                t: {r: {c: m.to_dict() for c, m in cols.items()} for r, cols in rows.items()}
                for t, rows in breakdowns.items()
            }
        },
        "config": {**cfg.model_dump(), "system_prompt": system_prompt, "sampling": params.to_dict()},
        "versions": versions(),
        "model": backend.model_id,
        "model_info": backend.describe(),
        "chat_template_sha256": backend.chat_template_hash(),
        "judge": judge_backend.describe() if judge_backend is not None else None,
        "data": {"path": path, "sha256": data_sha, "items_sha256": items_sha256(items)},
        "data_sha256": data_sha,
        "n_samples": {name: {"original": len(items_all), "effective": len(items), "scored": len(samples)}},
        "n_failed": len(failures),
        "n_empty_responses": empty,
        "reasoning": traces,
        "resumed": resumed,
        "cache": _stats(backend),
        "judge_cache": _stats(judge_backend),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total_time_s": round(time.time() - started, 3),
    }
    results = _clean(results)
    write_json(out / "results.json", results)
    write_report(out / "report.md", results)
    results["out_dir"] = str(out)
    return results
