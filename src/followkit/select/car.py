"""CAR teacher selection (arXiv 2411.07133): which teacher's responses should a student learn from.

Input/Output:
    teacher response files (same prompts for every teacher), a student backend with `logprobs`,
    a reward -> `CarReport`: per teacher the mean reward r, the student's mean NLL L, CAR and the
    baselines (reward alone, loss alone, IFD, response length), ranked; optionally the Spearman
    correlation of each metric's ranking with observed downstream scores (the paper's Table 4).

Formulas (per teacher i, over its responses y given prompts x):
    r_i   = mean reward of the responses (followkit.rewards.car keeps it in [0, 1])
    L_i   = mean over responses of the per-token NLL of y given x under the student, in nats,
            chat template applied (what the SFT loss on that response would be at step 0)
    CAR_i = r_i / (1 + beta * L_i)
    IFD_i = mean over responses of PPL(y | x) / PPL(y) = exp(NLL(y | x) - NLL(y)), with PPL(y)
            measured after an empty user turn (see UNCOND_CHAT)
    len_i = mean response length in student tokens

Directions: higher is better for CAR, reward, IFD (Cherry LLM selects high-IFD data, where the
instruction helps least) and length (the paper's length baseline: longer responses, stronger
teacher); lower is better for loss. Spearman correlations are computed on these orientations, so a
positive rho always means "the metric ranks teachers as the downstream score does".

Resume: the student's log-probs and a judge's verdicts go through the shared request cache, which
stores each chunk as it completes, so a killed run rerun with the same arguments replays them.

References: Xu et al., "Stronger Models are NOT Stronger Teachers for Instruction Tuning",
arXiv 2411.07133 (CAR); Li et al., "From Quantity to Quality", arXiv 2308.12032 (IFD).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from followkit.backends.base import Backend, Chat
from followkit.core.errors import InputError
from followkit.core.io import text_sha256
from followkit.core.records import Reads, ResponseWithVerdicts, TeacherRow, iter_records
from followkit.core.settings import Cache, RefreshCache, cli
from followkit.rewards.car import Reward, RewardInput

DEFAULT_BETA = 1.0
"""beta of CAR = r / (1 + beta * L); the paper does not publish its value.

L is a per-token NLL in nats. Measured with the embedded SmolLM2-135M student on the test
fixtures: 2.6 for fluent English answers, 6.3 for the same answers in rare words; instruction
data from another model typically lands at 1.5-3.5. With beta = 1 the denominator 1 + L then
runs ~2.5-4.5, and the elasticity of CAR to the loss, beta * L / (1 + beta * L), is ~0.6-0.8:
one nat per token more surprise costs about as much as a 20-35% lower reward, so compatibility
and quality both move the ranking and neither swamps the other (beta = 0.1 makes the loss
nearly irrelevant, beta = 10 makes the reward nearly irrelevant). beta -> 0 is the reward alone;
beta -> inf ranks by the loss alone. With `--validate`, CAR is also
reported for a sweep of beta (BETA_SWEEP) so the choice can be checked on one's own data.
"""

BETA_SWEEP: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)


class CarConfig(BaseModel):
    """Settings of `followkit car`; each is also a flag (followkit.core.settings)."""

    model_config = ConfigDict(extra="forbid")
    reads: ClassVar[Reads] = Reads((ResponseWithVerdicts, TeacherRow))

    teacher: list[str] = Field(
        description="NAME=FILE or NAME=FILE@MODEL_SPEC, repeated: a JSONL of one teacher's responses "
        "(id, messages or prompt, response; constraints for --reward verifier)",
        min_length=1,
        json_schema_extra=cli("--teacher", "-t"),
    )
    student: str = Field(
        "embedded",
        description="The student: embedded | hf:PATH | openai:NAME | vllm:PATH",
        json_schema_extra=cli("--student", "-s"),
    )
    reward: str = Field(
        "verifier", description="verifier | judge:MODEL | rm:PATH", json_schema_extra=cli("--reward", "-r")
    )
    beta: float = Field(DEFAULT_BETA, ge=0.0, description="CAR = r / (1 + beta * L)")
    validation: list[str] = Field(
        default_factory=list,
        description="SCORES.json ({teacher: downstream score or winrate.json path}) or NAME=winrate.json, "
        "repeated: report Spearman rho of each metric's ranking",
        json_schema_extra=cli("--validate"),
    )
    base_url: str | None = Field(None, description="Server URL for an openai:NAME student")
    judge_base_url: str | None = Field(None, description="Server URL for an openai:NAME judge")
    cache: Cache = True
    refresh_cache: RefreshCache = False
    out: str = Field(
        "runs/car",
        description="Output folder (car.json, responses.jsonl)",
        json_schema_extra=cli("--out", "-o"),
    )


UNCOND_CHAT: Chat = [{"role": "user", "content": ""}]
"""The context of PPL(y) for IFD: an empty user turn in the student's chat template.

The template's assistant header then precedes the response in both measurements, so the ratio
isolates what the instruction contributes (raw text without a template would also change the
framing tokens, and chat backends take chats only).
"""

METRICS: dict[str, bool] = {"car": True, "reward": True, "loss": False, "ifd": True, "length": True}
"""Metric name -> higher is better."""

LOGPROB_CHUNK = 32  # pairs per backend.logprobs call: a progress step, and a cache write each


@dataclass
class TeacherRecord:
    """One teacher response: its id, prompt chat, response and constraints."""

    id: str
    chat: Chat
    response: str
    constraints: list[dict[str, Any]]
    line: int


@dataclass
class Teacher:
    """A teacher's response set, its file and (when known) the model spec that produced it."""

    name: str
    path: str
    model: str | None
    records: list[TeacherRecord] = field(default_factory=list)


@dataclass
class TeacherScore:
    """CAR and the baselines for one teacher."""

    name: str
    path: str
    model: str | None
    n: int
    n_scored: int
    reward: float
    reward_raw: float
    loss: float
    ifd: float
    length: float
    length_chars: float
    car: float
    ranks: dict[str, float] = field(default_factory=dict)

    def metric(self, name: str) -> float:
        """The value of a metric of METRICS."""
        return float(getattr(self, name))


def parse_teacher_arg(arg: str) -> tuple[str, str, str | None]:
    """'NAME=FILE' or 'NAME=FILE@SPEC' -> (name, file, spec or None)."""
    name, sep, rest = arg.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise InputError(f"--teacher '{arg}' is not NAME=FILE or NAME=FILE@MODEL_SPEC")
    path, at, spec = rest.partition("@")
    if at and not spec:
        raise InputError(f"--teacher '{arg}': nothing after '@' (a model spec such as openai:NAME)")
    return name.strip(), path, spec or None


def _record_of(row: TeacherRow, path: str, line: int) -> TeacherRecord:
    """A checked teacher row as CAR's record: a chat ending with a user turn, a non-empty response."""
    chat = [{"role": m["role"], "content": m["content"]} for m in row.messages]
    if chat and chat[-1]["role"] == "assistant":  # a chat that still holds the answer it was given
        chat.pop()
    if not row.response:
        raise InputError("empty response (its NLL is undefined)", path=path, line=line, field="response")
    if not chat or chat[-1]["role"] != "user":
        raise InputError("the prompt chat must end with a user turn", path=path, line=line, field="messages")
    rule = [c.model_dump(exclude_none=True) for c in row.constraints if c.id != "trace:text"]
    if rule:  # every rule constraint id known and its kwargs valid (a misspelled id fails, never skipped)
        from followkit.constraints.verify import check_constraints

        check_constraints({"constraints": rule}, path, line)
    cons = [{"id": c.id, "kwargs": c.kwargs, "text": c.text} for c in row.constraints]
    return TeacherRecord(row.id, chat, row.response, cons, line)


def load_teacher(name: str, path: str | Path, model: str | None = None) -> Teacher:
    """A teacher's records (any shape followkit.core.records adapts); its model from the argument or the file."""
    path = str(path)
    teacher = Teacher(name, path, model)
    models: set[str] = set()
    for line, row in iter_records(path, TeacherRow, shape="auto"):
        teacher.records.append(_record_of(row, path, line))
        if row.model:
            models.add(row.model)
    if teacher.model is None and len(models) == 1:
        teacher.model = models.pop()
    return teacher


def check_same_prompts(teachers: list[Teacher]) -> None:
    """Every teacher must answer the same ids with the same prompts; InputError naming the first mismatch."""
    if len(teachers) < 2:
        raise InputError("CAR compares teachers: give at least two --teacher NAME=FILE")
    names = [t.name for t in teachers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"teacher name(s) given twice: {', '.join(dup)}")

    def prompts(t: Teacher) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for r in t.records:
            key = json.dumps(r.chat, ensure_ascii=False, sort_keys=True)
            if r.id in out and out[r.id][0] != key:
                raise InputError(
                    f"id '{r.id}' appears with two different prompts (first at line {out[r.id][1]})",
                    path=t.path,
                    line=r.line,
                    field="messages",
                )
            out.setdefault(r.id, (key, r.line))
        return out

    ref = teachers[0]
    ref_p = prompts(ref)
    for t in teachers[1:]:
        p = prompts(t)
        missing = [i for i in ref_p if i not in p]
        extra = [i for i in p if i not in ref_p]
        if missing or extra:
            what = []
            if missing:
                what.append(f"lacks {len(missing)} id(s) of teacher '{ref.name}' (e.g. '{missing[0]}')")
            if extra:
                what.append(f"has {len(extra)} id(s) that teacher '{ref.name}' lacks (e.g. '{extra[0]}')")
            raise InputError(
                f"teacher '{t.name}' {' and '.join(what)}: every teacher must answer the same prompts",
                path=t.path,
            )
        for rid, (key, line) in p.items():
            if key != ref_p[rid][0]:
                raise InputError(
                    f"the prompt of id '{rid}' differs from teacher '{ref.name}' ({ref.path}:{ref_p[rid][1]}): "
                    "every teacher must answer the same prompts",
                    path=t.path,
                    line=line,
                    field="messages",
                )


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def car_score(reward: float, loss: float, beta: float) -> float:
    """CAR = reward / (1 + beta * loss)."""
    return reward / (1.0 + beta * loss)


def rank_values(values: list[float], higher_is_better: bool = True) -> list[float]:
    """1-based ranks, best first; ties share the mean of their ranks (as Spearman needs)."""
    keyed = [(-v if higher_is_better else v) for v in values]
    order = sorted(range(len(values)), key=lambda i: keyed[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and keyed[order[j + 1]] == keyed[order[i]]:
            j += 1
        avg = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = avg
        i = j + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rho with tie correction (Pearson correlation of average ranks); nan if either is constant."""
    if len(x) != len(y):
        raise ValueError("spearman: x and y differ in length")
    if len(x) < 2:
        return float("nan")
    rx, ry = rank_values(x), rank_values(y)
    mx, my = _mean(rx), _mean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return float("nan")
    return sxy / math.sqrt(sxx * syy)


def student_stats(
    student: Backend, teachers: list[Teacher], progress: Any = None
) -> dict[tuple[str, int], dict[str, float]]:
    """Per response (teacher, line): conditional and unconditional mean token NLL and token count."""
    pairs: list[tuple[Chat, str]] = []
    keys: list[tuple[str, int]] = []
    for t in teachers:
        for r in t.records:
            pairs.append((r.chat, r.response))
            keys.append((t.name, r.line))
    uncond = [(UNCOND_CHAT, resp) for _, resp in pairs]
    cond_lp: list[list[float]] = []
    unc_lp: list[list[float]] = []
    for i in range(0, len(pairs), LOGPROB_CHUNK):
        cond_lp += student.logprobs(pairs[i : i + LOGPROB_CHUNK])
        unc_lp += student.logprobs(uncond[i : i + LOGPROB_CHUNK])
        if progress is not None:
            progress(min(LOGPROB_CHUNK, len(pairs) - i))
    out = {}
    for key, c, u in zip(keys, cond_lp, unc_lp, strict=True):
        if not c or not u:
            raise InputError(f"teacher '{key[0]}': the student gave no response tokens", line=key[1])
        nll_c = -sum(c) / len(c)
        nll_u = -sum(u) / len(u)
        out[key] = {
            "nll": nll_c,
            "nll_uncond": nll_u,
            "ifd": math.exp(nll_c - nll_u),
            "tokens": float(len(c)),
        }
    return out


@dataclass
class CarReport:
    """The scores of every teacher, ranked by CAR, and the run's settings."""

    teachers: list[TeacherScore]
    beta: float
    reward: dict[str, Any]
    student: dict[str, Any]
    per_response: list[dict[str, Any]]
    validation: dict[str, Any] | None = None

    @property
    def ranking(self) -> list[str]:
        return [t.name for t in sorted(self.teachers, key=lambda t: t.ranks["car"])]

    def to_dict(self) -> dict[str, Any]:
        """The car.json document."""
        return {
            "method": "CAR (arXiv 2411.07133): car = reward / (1 + beta * loss)",
            "beta": self.beta,
            "reward": self.reward,
            "student": self.student,
            "directions": {m: ("higher" if hi else "lower") + " is better" for m, hi in METRICS.items()},
            "ranking": self.ranking,
            "best": self.ranking[0],
            "best_model": next(t.model for t in self.teachers if t.name == self.ranking[0]),
            "teachers": [
                {
                    "name": t.name,
                    "path": t.path,
                    "model": t.model,
                    "n": t.n,
                    "n_scored": t.n_scored,
                    "car": t.car,
                    "reward": t.reward,
                    "reward_raw": t.reward_raw,
                    "loss": t.loss,
                    "ifd": t.ifd,
                    "length_tokens": t.length,
                    "length_chars": t.length_chars,
                    "ranks": t.ranks,
                }
                for t in sorted(self.teachers, key=lambda t: t.ranks["car"])
            ],
            "validation": self.validation,
        }


def score_teachers(
    teachers: list[Teacher],
    student: Backend,
    reward: Reward,
    beta: float = DEFAULT_BETA,
    progress: Any = None,
) -> CarReport:
    """CAR and the baselines for each teacher (the prompts must match; see check_same_prompts)."""
    if beta < 0 or math.isnan(beta):
        raise InputError(f"--beta must be >= 0, not {beta}")
    check_same_prompts(teachers)
    items, owners = [], []
    for t in teachers:
        for r in t.records:
            query = r.chat[-1]["content"]
            items.append(RewardInput(query, r.chat, r.response, r.constraints, where=f"{t.path}:{r.line}"))
            owners.append((t.name, r.line))
    rewards = reward(items)
    raws = reward.raw()
    stats = student_stats(student, teachers, progress)

    per_response = []
    scores = []
    for t in teachers:
        rs, raw, nll, ifd, toks, chars = [], [], [], [], [], []
        idx = {key: k for k, key in enumerate(owners) if key[0] == t.name}
        for r in t.records:
            k = idx[(t.name, r.line)]
            s = stats[(t.name, r.line)]
            if rewards[k] is not None:
                rs.append(rewards[k])
                if raws and raws[k] is not None:
                    raw.append(raws[k])
            nll.append(s["nll"])
            ifd.append(s["ifd"])
            toks.append(s["tokens"])
            chars.append(float(len(r.response)))
            per_response.append(
                {
                    "teacher": t.name,
                    "id": r.id,
                    "line": r.line,
                    "reward": rewards[k],
                    "reward_raw": raws[k] if raws else None,
                    "nll": s["nll"],
                    "nll_uncond": s["nll_uncond"],
                    "ifd": s["ifd"],
                    "tokens": int(s["tokens"]),
                    "response_sha256": text_sha256(r.response)[:16],
                }
            )
        if not rs:
            raise InputError(
                f"teacher '{t.name}': no response could be scored by the {reward.name} reward "
                "(no rule-checkable constraints?)",
                path=t.path,
            )
        r_mean, l_mean = _mean(rs), _mean(nll)
        scores.append(
            TeacherScore(
                name=t.name,
                path=t.path,
                model=t.model,
                n=len(t.records),
                n_scored=len(rs),
                reward=r_mean,
                reward_raw=_mean(raw) if raw else r_mean,
                loss=l_mean,
                ifd=_mean(ifd),
                length=_mean(toks),
                length_chars=_mean(chars),
                car=car_score(r_mean, l_mean, beta),
            )
        )
    for m, hi in METRICS.items():
        for t, rk in zip(scores, rank_values([s.metric(m) for s in scores], hi), strict=True):
            t.ranks[m] = int(rk) if rk == int(rk) else rk
    # Break CAR ties by name so the ranking (and best teacher) is deterministic.
    order = sorted(scores, key=lambda s: (-s.car, s.name))
    for pos, s in enumerate(order, start=1):
        s.ranks["car"] = pos
    info = {"spec": reward.name, "positivity": reward.positivity}
    return CarReport(scores, beta, info, student.describe(), per_response)


def validate(report: CarReport, downstream: dict[str, float]) -> dict[str, Any]:
    """Spearman rho of each metric's teacher ranking with the downstream scores (and CAR over a beta sweep)."""
    names = [t.name for t in report.teachers]
    missing = [n for n in names if n not in downstream]
    if missing:
        raise InputError(f"--validate has no downstream score for teacher(s): {', '.join(missing)}")
    y = [downstream[n] for n in names]
    out: dict[str, Any] = {"downstream": {n: downstream[n] for n in names}, "n_teachers": len(names)}
    rho = {}
    for m, hi in METRICS.items():
        x = [t.metric(m) if hi else -t.metric(m) for t in report.teachers]
        rho[m] = spearman(x, y)
    out["spearman"] = rho
    out["car_beta_sweep"] = {
        str(b): spearman([car_score(t.reward, t.loss, b) for t in report.teachers], y) for b in BETA_SWEEP
    }
    if len(names) < 3:
        out["note"] = "with 2 teachers Spearman's rho is +1 or -1; use 3 or more for a meaningful correlation"
    report.validation = out
    return out


def run_car(
    cfg: CarConfig,
    *,
    student: Backend | None = None,
    judge: Backend | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Rank cfg.teacher by CAR; writes car.json, responses.jsonl and manifest.json to cfg.out.

    Returns car.json's body with `outputs` (name -> path). `student` and `judge` (for a
    judge:MODEL reward) replace the backends the config names (tests).
    """
    from followkit.backends import load_backend
    from followkit.core.io import write_json, write_jsonl
    from followkit.core.manifest import write_manifest
    from followkit.core.progress import stage_progress
    from followkit.rewards.car import load_reward

    teachers = [load_teacher(*parse_teacher_arg(arg)) for arg in cfg.teacher]
    downstream = load_downstream(cfg.validation) if cfg.validation else None  # a bad file fails first
    check_same_prompts(teachers)
    cache = {"cache": cfg.cache, "refresh_cache": cfg.refresh_cache}

    def load_judge(spec: str) -> Backend:
        return judge if judge is not None else load_backend(spec, base_url=cfg.judge_base_url, **cache)

    reward = load_reward(cfg.reward, load_judge)
    if student is None:
        student = load_backend(cfg.student, base_url=cfg.base_url, **cache)
    with stage_progress("car: student log-probs", sum(len(t.records) for t in teachers), progress) as bar:
        report = score_teachers(teachers, student, reward, cfg.beta, progress=bar.advance)
    report.reward["spec"] = cfg.reward
    if downstream is not None:
        validate(report, downstream)
    out = Path(cfg.out)
    paths = {"car": out / "car.json", "responses": out / "responses.jsonl", "manifest": out / "manifest.json"}
    write_jsonl(paths["responses"], report.per_response)
    doc = report.to_dict()
    write_json(paths["car"], doc)
    write_manifest(
        out, "car", cfg.model_dump(), student=student.describe(), cache=getattr(student, "cache_stats", None)
    )
    return {**doc, "outputs": {k: str(p) for k, p in paths.items()}}


_WINRATE_KEYS = ("length_controlled_win_rate", "lc_win_rate", "win_rate", "score", "value")


def _number(value: Any, where: str) -> float:
    """A downstream score from a number, a metric dict or a win-rate document."""
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        for k in _WINRATE_KEYS:
            if k in value:
                return _number(value[k], where)
    raise InputError(
        f"{where}: expected a number or a win-rate object with one of {', '.join(_WINRATE_KEYS)}"
    )


def load_downstream(specs: list[str]) -> dict[str, float]:
    """Downstream scores from SCORES.json ({teacher: score or winrate.json path}) and/or NAME=winrate.json."""
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if sep and not Path(spec).exists():
            out[name] = _number(_read_json(path), path)
            continue
        doc = _read_json(spec)
        if not isinstance(doc, dict):
            raise InputError("expected a JSON object {teacher: score}", path=spec)
        for k, v in doc.items():
            if isinstance(v, str):
                p = Path(v) if Path(v).is_absolute() else Path(spec).parent / v
                out[k] = _number(_read_json(str(p)), str(p))
            else:
                out[k] = _number(v, f"{spec}: teacher '{k}'")
    return out


def _read_json(path: str) -> Any:
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path=path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc.msg})", path=path, line=exc.lineno) from None


def best_teacher(car_json_path: str | Path) -> str:
    """The model spec of the teacher ranked first by CAR in a car.json (for `--teacher auto:CAR_JSON`)."""
    doc = _read_json(str(car_json_path))
    try:
        best = doc["ranking"][0]
        entry = next(t for t in doc["teachers"] if t["name"] == best)
    except (KeyError, IndexError, TypeError, StopIteration):
        raise InputError("not a car.json written by `followkit car`", path=str(car_json_path)) from None
    if not entry.get("model"):
        raise InputError(
            f"the best teacher '{best}' has no model spec: rerun `followkit car` with "
            f"--teacher {best}=FILE@MODEL_SPEC (or a 'model' field in its file)",
            path=str(car_json_path),
        )
    return str(entry["model"])


def resolve_model_spec(spec: str) -> str:
    """A model spec with 'auto:CAR_JSON' replaced by the CAR-best teacher's spec; others unchanged."""
    if spec.startswith("auto:"):
        return best_teacher(spec.removeprefix("auto:"))
    return spec
