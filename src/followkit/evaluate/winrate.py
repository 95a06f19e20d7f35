"""Pairwise win rates against a baseline, judged in both orders, with AlpacaEval 2's length control.

Input: two response files (followkit's Response rows `{id, messages, response, model}`, eval
samples.jsonl rows, or AlpacaEval rows `{instruction, output, generator}`), paired by id, or by
prompt when a file has no ids. A judge model compares each pair twice, the model's response first
and then second (position bias cancels in the average); a pair's preference p in [0, 1] is the
mean over both orders (win 1, tie 0.5, loss 0). The judge prompt gets the TRACE judge's protection
(followkit.judges.trace): the instruction and each response sit in a tag holding a hash of their text, so
none can close its block or forge another's; the judge writes a marker line (a hash of the three
texts) before its verdict, and the verdict is the first [[...]] after that marker (without it, the
last one once every quoted verdict-shaped line of the responses is removed). Outputs: win rate (mean p) with its standard error,
discrete win rate, average lengths, and the length-controlled win rate.

Length control (Dubois et al. 2024, AlpacaEval 2): a logistic GLM
    logit P(model preferred on x) = theta + phi * tanh(d_x / std(d)) + psi * gamma_x
with d_x the length difference (characters, model minus baseline), theta the model term and
gamma_x an instruction-difficulty covariate (from --difficulty files; the instruction term is left
out without one), fitted to the soft preferences by L2-penalised maximum likelihood with
Newton's method in numpy (exact Hessian, step halving). The LC win rate is the mean prediction
with d_x = 0; its standard error is a seeded bootstrap over pairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from followkit.backends.base import Backend, SamplingParams
from followkit.core.errors import InputError
from followkit.core.io import text_sha256, write_json, write_jsonl
from followkit.core.reasoning import (
    DEFAULT_MARKERS,
    DEFAULT_MARKERS_TEXT,
    Setting,
    answer_text,
    parse_markers,
)
from followkit.core.records import DifficultyRow, iter_records, read
from followkit.core.settings import MODEL_SPEC, Cache, Reasoning, ReasoningMarkers, RefreshCache, cli
from followkit.core.stats import Metric, mean_metric

if TYPE_CHECKING:
    import numpy as np  # imported where used: `followkit --help` stays fast

SEPARATION_WARNING = 10.0
"""A fitted length slope above this means length (nearly) decides every judgment: the GLM's intercept,
and so the LC win rate, is then poorly determined, and winrate.json says so."""

GLM_L2 = 1e-4
"""L2 penalty on the GLM's slopes (not the intercept): keeps phi finite when length separates the
preferences perfectly; small enough not to move the intercept the LC win rate is read from."""

BOOTSTRAP_SAMPLES = 200
"""Resamples of pairs for the LC win rate's standard error (seeded)."""

REQUIRE_BOTH_ORDERS = True
"""Policy: a pair counts only if both orders' judgments parse; a pair judged in one order only would
bring position bias back. Excluded pairs are counted and kept in judgments.jsonl."""

_VERDICT_RE = re.compile(r"\[\[\s*(1|2|tie)\s*\]\]", re.IGNORECASE)
_EXACT_VERDICT_RE = re.compile(r"^[*_`\s]*\[\[\s*(1|2|tie)\s*\]\][*_`\s.]*$", re.IGNORECASE)


@dataclass
class Row:
    """One response row: its id, the prompt it answers, the response and the model that wrote it."""

    id: str | None
    prompt: str
    response: str
    model: str
    line: int


class ResponseRow(BaseModel):
    """A response row as winrate reads it (through followkit.core.records' adapters): prompt, response, id?, model?."""

    model_config = ConfigDict(extra="allow")
    id: str | StrictInt | None = None
    prompt: str = Field(min_length=1)
    response: str
    model: str | None = None


def read_responses(
    path: str | Path, reasoning: Setting = "strip", markers: tuple[str, str] = DEFAULT_MARKERS
) -> list[Row]:
    """Rows of a response file; InputError naming file, line and field for a bad or duplicate row.

    A reasoning trace is split off each response (followkit.core.reasoning): the judge compares answers,
    and the length control measures answers."""
    return [
        Row(
            None if row.id is None else str(row.id),
            row.prompt,
            answer_text(row.response, reasoning, markers),
            row.model or Path(path).stem,
            line,
        )
        for line, row in iter_records(path, ResponseRow, shape="alpaca_eval")
    ]


def pair_rows(
    model_rows: list[Row], base_rows: list[Row], model_path: str, base_path: str
) -> list[tuple[Row, Row]]:
    """Pairs (model row, baseline row): by id when both files have ids on every row, else by prompt."""
    by_id = all(r.id is not None for r in model_rows) and all(r.id is not None for r in base_rows)
    key = (lambda r: r.id) if by_id else (lambda r: r.prompt)
    what = "id" if by_id else "prompt"
    base: dict[str, Row] = {}
    for r in base_rows:
        k = key(r)
        if k in base:
            raise InputError(
                f"the same prompt appears twice (first on line {base[k].line})", base_path, r.line, "prompt"
            )
        base[k] = r
    pairs, used = [], set()
    for r in model_rows:
        k = key(r)
        if k in used:
            raise InputError("the same prompt appears twice", model_path, r.line, "prompt")
        used.add(k)
        b = base.get(k)
        if b is None:
            shown = k if len(k) < 60 else k[:57] + "..."
            raise InputError(
                f"no baseline row with this {what} ({shown!r}) in {base_path}", model_path, r.line, what
            )
        if by_id and b.prompt.strip() != r.prompt.strip():
            raise InputError(
                f"the prompt differs from the baseline's row with the same id (line {b.line} of {base_path})",
                model_path,
                r.line,
                "prompt",
            )
        pairs.append((r, b))
    extra = [r for k, r in base.items() if k not in used]
    if extra:
        raise InputError(
            f"{len(extra)} baseline row(s) have no response in {model_path} (first: line {extra[0].line})",
            base_path,
            extra[0].line,
            what,
        )
    return pairs


def load_template(template: str | None = None) -> tuple[str, str]:
    """(name, text) of the pairwise judge template: the packaged one, or a file with the same placeholders."""
    if template is None:
        text = resources.files("followkit").joinpath("prompts", "winrate_pairwise.txt").read_text("utf-8")
        return "winrate_pairwise", text
    p = Path(template)
    if not p.is_file():
        raise InputError("no such win-rate template file", str(p))
    text = p.read_text(encoding="utf-8")
    missing = [k for k in ("instruction", "response_1", "response_2") if "{{" + k + "}}" not in text]
    if missing:
        raise InputError(
            f"template lacks the placeholder(s) {', '.join('{{' + m + '}}' for m in missing)}", str(p)
        )
    return str(p), text


def pair_tags(instruction: str, first: str, second: str) -> dict[str, str]:
    """Delimiter names for one order's texts and the judge's verdict marker (hashes the texts cannot forge)."""
    from followkit.judges.trace import untrusted_tag

    return {
        "instruction_tag": untrusted_tag("instruction", instruction),
        "tag_1": untrusted_tag("response-1", first),
        "tag_2": untrusted_tag("response-2", second),
        "verdict": untrusted_tag("verdict", instruction, first, second),
    }


def render_prompt(template: str, instruction: str, first: str, second: str) -> str:
    """The judge's user message for one order (placeholders filled in one pass)."""
    from followkit.judges.trace import fill

    values = {"instruction": instruction, "response_1": first, "response_2": second}
    return fill(template, {**values, **pair_tags(instruction, first, second)})


def parse_winner(
    raw: str, instruction: str = "", first: str = "", second: str = "", marked: bool = True
) -> str | None:
    """'1', '2' or 'tie' from the judge's own verdict (see the module docstring); None if there is none.

    `marked`: the template asked for the verdict marker line.
    """
    from followkit.judges.trace import verdict_segments

    tags = pair_tags(instruction, first, second)
    for text, after_marker in verdict_segments(
        raw or "",
        [instruction, first, second],
        [tags["instruction_tag"], tags["tag_1"], tags["tag_2"]],
        _VERDICT_RE,
        tags["verdict"] if marked else None,
    ):
        if after_marker:
            # After a marker only a line that is exactly a verdict counts (the echoed menu line
            # "[[1]] if response 1 is better" does not), and the first one is the judge's own.
            exact = [m.group(1) for line in text.splitlines() if (m := _EXACT_VERDICT_RE.match(line.strip()))]
            if exact:
                return exact[0].lower()
            continue
        # Without a marker echoes are gone and a judge may reconsider: the last verdict counts.
        found = _VERDICT_RE.findall(text)
        return found[-1].lower() if found else None
    return None


def _pref(winner: str | None, model_position: str) -> float | None:
    if winner is None:
        return None
    if winner == "tie":
        return 0.5
    return 1.0 if winner == model_position else 0.0


# --- the length-controlled GLM -----------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    import numpy as np

    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def fit_glm(X: np.ndarray, y: np.ndarray, l2: float = GLM_L2, max_iter: int = 100) -> np.ndarray:
    """Logistic regression on soft targets y in [0, 1]; column 0 is the unpenalised intercept.

    Minimises mean(log(1 + e^z) - y z) + l2/2 |slopes|^2, z = X beta, by Newton's method with
    step halving (numpy; the objective is strictly convex, so it converges to the one minimum).
    """
    import numpy as np

    n, k = X.shape
    pen = np.full(k, l2)
    pen[0] = 0.0

    def objective(beta: np.ndarray) -> float:
        z = X @ beta
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(pen * beta**2))

    beta = np.zeros(k)
    f = objective(beta)
    for _ in range(max_iter):
        mu = _sigmoid(X @ beta)
        grad = X.T @ (mu - y) / n + pen * beta
        w = mu * (1.0 - mu)
        hess = (X * w[:, None]).T @ X / n + np.diag(pen) + 1e-12 * np.eye(k)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while True:
            cand = beta - t * step
            fc = objective(cand)
            if fc <= f + 1e-4 * t * float(grad @ -step) or t < 1e-8:
                break
            t *= 0.5
        beta, f_old, f = cand, f, fc
        if np.max(np.abs(t * step)) < 1e-10 or f_old - f < 1e-14:
            break
    return beta


def _design(dlen: np.ndarray, scale: float, gamma: np.ndarray | None) -> np.ndarray:
    import numpy as np

    cols = [np.ones_like(dlen), np.tanh(dlen / scale)]
    if gamma is not None:
        cols.append(gamma)
    return np.column_stack(cols)


@dataclass
class LCResult:
    """The length-controlled win rate, its bootstrap standard error and the fitted GLM."""

    value: float
    stderr: float
    coef: dict[str, float]
    length_scale: float
    instruction_term: bool
    n: int


def length_controlled(
    prefs: list[float],
    model_lengths: list[int],
    base_lengths: list[int],
    difficulty: list[float] | None = None,
    bootstrap: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> LCResult:
    """AlpacaEval 2's LC win rate: fit the GLM, predict every pair with zero length difference, average."""
    import numpy as np

    y = np.asarray(prefs, dtype=float)
    dlen = np.asarray(model_lengths, dtype=float) - np.asarray(base_lengths, dtype=float)
    n = len(y)
    if n == 0:
        return LCResult(float("nan"), float("nan"), {}, float("nan"), difficulty is not None, 0)
    scale = float(np.std(dlen, ddof=1)) if n > 1 else 0.0
    scale = scale if scale > 0 else 1.0  # all lengths equal: the length term is 0 anyway
    gamma = None if difficulty is None else np.asarray(difficulty, dtype=float)

    def lc(idx: np.ndarray) -> tuple[float, np.ndarray]:
        X = _design(dlen[idx], scale, None if gamma is None else gamma[idx])
        beta = fit_glm(X, y[idx])
        X0 = X.copy()
        X0[:, 1] = 0.0  # the length difference set to zero
        return float(_sigmoid(X0 @ beta).mean()), beta

    value, beta = lc(np.arange(n))
    names = ["model", "length"] + (["instruction"] if gamma is not None else [])
    stderr = float("nan")
    if n > 1 and bootstrap > 0:
        rng = np.random.default_rng(seed)
        boots = [lc(rng.integers(0, n, n))[0] for _ in range(bootstrap)]
        stderr = float(np.std(boots, ddof=1))
    return LCResult(
        value, stderr, dict(zip(names, map(float, beta), strict=True)), scale, gamma is not None, n
    )


# --- the whole run ----------------------------------------------------------------------------


class WinRateConfig(BaseModel):
    """Settings of `followkit winrate`; each is also a flag (followkit.core.settings)."""

    model_config = ConfigDict(extra="forbid")

    responses: str = Field(description="The model's responses (JSONL: id, messages|prompt, response)")
    baseline: str = Field(description="The baseline's responses to the same prompts (JSONL)")
    judge: str = Field(description="Judge model: " + MODEL_SPEC)
    base_url: str | None = Field(None, description="Server URL for an openai:NAME judge")
    out: str = Field(
        "runs/winrate",
        description="Output folder for winrate.json and judgments.jsonl",
        json_schema_extra=cli("--out", "-o"),
    )
    template: str | None = Field(
        None, description="Judge prompt file with {{instruction}}, {{response_1}}, {{response_2}}"
    )
    difficulty: list[str] = Field(
        default_factory=list,
        description="Instruction difficulty for the LC GLM: JSONL {id, difficulty} or earlier judgments.jsonl "
        "(repeatable)",
    )
    max_tokens: int = Field(512, ge=1, description="Most tokens per judgment")
    bootstrap: int = Field(
        BOOTSTRAP_SAMPLES, ge=0, description="Bootstrap resamples for the LC standard error"
    )
    seed: int = Field(0, description="Bootstrap seed")
    cache: Cache = True
    refresh_cache: RefreshCache = False
    reasoning: Reasoning = "strip"
    reasoning_markers: ReasoningMarkers = DEFAULT_MARKERS_TEXT


def read_difficulty(paths: list[str]) -> dict[str, float]:
    """Per-id instruction difficulty, averaged over the files: each a file of DifficultyRow
    ({id, difficulty}, or an earlier judgments.jsonl's {id, preference}: 1 - preference)."""
    sums: dict[str, list[float]] = {}
    for path in paths:
        for row in read(path, DifficultyRow):
            if row.difficulty is not None:
                sums.setdefault(row.id, []).append(row.difficulty)
    return {k: sum(v) / len(v) for k, v in sums.items()}


def judge_pairs(
    backend: Backend,
    pairs: list[tuple[Row, Row]],
    template: str,
    max_tokens: int = 512,
    reasoning: Setting = "strip",
    markers: tuple[str, str] = DEFAULT_MARKERS,
) -> list[dict[str, Any]]:
    """Judge each pair in both orders; one record per pair with both raw judgments and the preference."""
    from followkit.core.progress import stage_progress

    chats = []
    marked = "{{verdict}}" in template
    for m, b in pairs:
        chats.append([{"role": "user", "content": render_prompt(template, m.prompt, m.response, b.response)}])
        chats.append([{"role": "user", "content": render_prompt(template, m.prompt, b.response, m.response)}])
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, seed=0)
    with stage_progress("judging pairs (both orders)", len(chats)) as bar:
        comps = backend.complete(chats, params, progress=lambda k: bar.advance(k))
    records = []
    for i, (m, b) in enumerate(pairs):
        orders = []
        for j, position, (first, second) in (
            (2 * i, "1", (m.response, b.response)),
            (2 * i + 1, "2", (b.response, m.response)),
        ):
            c = comps[j]
            raw = c.texts[0] if c.ok and c.texts else ""
            # a reasoning judge's trace may weigh [[1]] against [[2]]: only its answer is read
            said = answer_text(raw, reasoning, markers)
            winner = parse_winner(said, m.prompt, first, second, marked) if c.ok else None
            error = (
                c.error
                if not c.ok
                else (None if winner is not None else "no [[1]], [[2]] or [[tie]] verdict")
            )
            orders.append(
                {
                    "model_position": position,
                    "winner": winner,
                    "preference": _pref(winner, position),
                    "error": error,
                    "raw": raw,
                }
            )
        ps = [o["preference"] for o in orders if o["preference"] is not None]
        complete = len(ps) == 2 or (not REQUIRE_BOTH_ORDERS and ps)
        records.append(
            {
                "id": m.id if m.id is not None else f"line-{m.line}",
                "prompt": m.prompt,
                "model_length": len(m.response),
                "baseline_length": len(b.response),
                "orders": orders,
                "preference": sum(ps) / len(ps) if complete else None,
                "excluded": not complete,
            }
        )
    return records


def summarize(
    records: list[dict[str, Any]],
    difficulty: dict[str, float] | None = None,
    bootstrap: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Win rate, discrete win rate, lengths and LC win rate over the judged pairs."""
    kept = [r for r in records if not r["excluded"]]
    prefs = [r["preference"] for r in kept]
    wr = mean_metric(prefs)
    discrete = mean_metric([1.0 if p > 0.5 else 0.5 if p == 0.5 else 0.0 for p in prefs])
    gamma = None
    if difficulty is not None:
        missing = [r["id"] for r in kept if r["id"] not in difficulty]
        if missing:
            raise InputError(f"--difficulty has no value for {len(missing)} pair(s), first id {missing[0]!r}")
        mean_d = sum(difficulty[r["id"]] for r in kept) / max(len(kept), 1)
        gamma = [difficulty[r["id"]] - mean_d for r in kept]
    lc = length_controlled(
        prefs,
        [r["model_length"] for r in kept],
        [r["baseline_length"] for r in kept],
        gamma,
        bootstrap=bootstrap,
        seed=seed,
    )
    n_unparsable = sum(1 for r in records for o in r["orders"] if o["preference"] is None)
    metrics = {
        "win_rate": wr,
        "discrete_win_rate": discrete,
        "lc_win_rate": Metric(lc.value, lc.stderr, lc.n),
        "avg_length_model": mean_metric([float(r["model_length"]) for r in records]),
        "avg_length_baseline": mean_metric([float(r["baseline_length"]) for r in records]),
    }
    out: dict[str, Any] = {
        "win_rate": wr.value,
        "win_rate_stderr": wr.stderr,
        "lc_win_rate": lc.value,
        "lc_win_rate_stderr": lc.stderr,
        "discrete_win_rate": discrete.value,
        "n_pairs": len(records),
        "n_scored": len(kept),
        "n_excluded": len(records) - len(kept),
        "n_unparsable_judgments": n_unparsable,
        "avg_length": {
            "model": metrics["avg_length_model"].value,
            "baseline": metrics["avg_length_baseline"].value,
        },
        "glm": {
            "formula": "logit p = model + length * tanh(dlen / length_scale)"
            + (" + instruction * difficulty" if lc.instruction_term else ""),
            "coef": lc.coef,
            "length_scale": lc.length_scale,
            "instruction_term": lc.instruction_term,
            "solver": "Newton (numpy), L2 on slopes",
            "l2": GLM_L2,
            "bootstrap": bootstrap,
        },
        "metrics": {k: v.to_dict() for k, v in metrics.items()},
    }
    if abs(lc.coef.get("length", 0.0)) > SEPARATION_WARNING:
        out["glm"]["warning"] = (
            f"length slope {lc.coef['length']:.1f}: length (nearly) decides every judgment, "
            "so the LC win rate is poorly determined"
        )
    return out


def run_winrate(cfg: WinRateConfig, backend: Backend | None = None) -> dict[str, Any]:
    """Read, pair, judge (cached), summarise; write DIR/judgments.jsonl and DIR/winrate.json."""
    markers = parse_markers(cfg.reasoning_markers)
    model_rows = read_responses(cfg.responses, cfg.reasoning, markers)
    base_rows = read_responses(cfg.baseline, cfg.reasoning, markers)
    pairs = pair_rows(model_rows, base_rows, cfg.responses, cfg.baseline)
    tname, template = load_template(cfg.template)
    difficulty = read_difficulty(cfg.difficulty) if cfg.difficulty else None
    if difficulty is not None:  # checked before the first judge call
        missing = [m.id for m, _ in pairs if m.id not in difficulty]
        if missing:
            raise InputError(f"--difficulty has no value for {len(missing)} pair(s), first id {missing[0]!r}")
    if backend is None:
        from followkit.backends import load_backend

        backend = load_backend(
            cfg.judge, base_url=cfg.base_url, cache=cfg.cache, refresh_cache=cfg.refresh_cache
        )
    records = judge_pairs(backend, pairs, template, cfg.max_tokens, cfg.reasoning, markers)
    out = Path(cfg.out)
    write_jsonl(out / "judgments.jsonl", records)
    summary = summarize(records, difficulty, bootstrap=cfg.bootstrap, seed=cfg.seed)
    doc = {
        "model": model_rows[0].model,
        "baseline": base_rows[0].model,
        **summary,
        "judge": {
            **backend.describe(),
            "spec": cfg.judge,
            "template": tname,
            "template_sha256": text_sha256(template),
        },
        "cache": getattr(backend, "cache_stats", None),
        "config": {k: v for k, v in vars(cfg).items()},
    }
    write_json(out / "winrate.json", doc)
    return doc
