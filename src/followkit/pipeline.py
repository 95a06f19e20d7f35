"""`followkit run`: a pipeline of CLI stages, each skipped when its inputs and arguments are unchanged.

A pipeline file is plain data (STYLE 22): `vars` (strings substituted as ${name}; `${run}` is the
run folder) and `stages`, each with a `name`, the followkit `args` it runs, the `inputs` it reads and
the `outputs` it must leave behind. A stage is skipped when its record in RUN/.pipeline/NAME.json
holds the same hash of (args, input file hashes) and its outputs exist, so a rerun after a crash or a
config change redoes only what changed. Stages run as subprocesses: a stage that dies (or is killed)
leaves no record and is redone, and memory from training is returned before evaluation starts.

Stages whose inputs do not depend on each other run side by side (`jobs`, default: one per CPU up
to MAX_AUTO_JOBS), each with an equal share of the CPUs as its torch threads: on a small CPU
machine, two one-thread processes do more than one two-thread process, and never oversubscribe.
A stage depends on every earlier stage whose outputs it reads (or that it names in `after`).

One entry can stand for several stages (STAGE_FOREACH): `foreach: {m: [sft, dpo]}` writes the entry
out once per value with ${m} substituted, before anything else reads the file, so the stages (and the
records that decide whether one is redone) are those hand-written copies would give. `after` and
`inputs_from` name an earlier stage, or a foreach entry as written (`eval_${m}`) for all of its stages.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from followkit.core.errors import FollowkitError, InputError
from followkit.core.io import file_sha256, write_json
from followkit.core.records import Reads, Writes, record_name
from followkit.core.settings import apply_overrides, load_yaml

_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")
RECORD_DIR = ".pipeline"
OFF = ("", "0", "false", "no", "off")


class StageSpec(BaseModel):
    """One stage: the followkit sub-command arguments, what it reads and what it must write."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    args: list[str]
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    description: str = ""
    # A command prefix that runs the followkit module, e.g. [accelerate, launch, --config_file, z3.yaml, -m]
    # for multi-GPU training; the stage then runs `<launcher> followkit.cli <args>`.
    launcher: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list, description="stages that must finish first")
    when: str | None = Field(
        None, description="run only when this (after substitution) is not empty, 0, false, no or off"
    )

    @property
    def enabled(self) -> bool:
        """False when `when` is set and off."""
        return self.when is None or self.when.strip().lower() not in OFF


class PipelineSpec(BaseModel):
    """A pipeline: variables and an ordered list of stages."""

    model_config = ConfigDict(extra="forbid")
    name: str = "pipeline"
    description: str = ""
    vars: dict[str, Any] = Field(default_factory=dict)
    jobs: int | str = Field(1, description="stages run at once: a number, or 'auto' (one per CPU, at most 4)")
    stages: list[StageSpec]


STAGE_FOREACH = """`foreach` on a stage entry: `{VAR: [v1, v2, ...]}` (one variable), or a list of mappings
`[{VAR: v1, OTHER: w1}, ...]` (several variables that change together, every item setting the same
ones). Each item writes the entry out once, ${VAR} replaced by the item's value in every field (the
name must become unique; values may use the pipeline's vars). Items are text, never a product of
lists: what a stage gets is what its item says. A foreach variable may not share a name with a var
(an override of that var would silently miss the stage)."""


class StageEntry(StageSpec):
    """A stage as a pipeline file writes it: one stage, or with `foreach` one stage per item."""

    name: str = Field(pattern=r"^([A-Za-z0-9_-]|\$\{[A-Za-z_][A-Za-z0-9_]*\})+$")
    foreach: Any = Field(None, description=STAGE_FOREACH)
    inputs_from: list[str] = Field(
        default_factory=list,
        description="earlier stages (or a foreach entry, as written) whose outputs it also reads, after `inputs`",
    )


class PipelineFile(PipelineSpec):
    """A pipeline file as written: stage entries, before `foreach` and `inputs_from` are expanded."""

    stages: list[StageEntry]


@dataclass
class StageOutcome:
    """What happened to a stage in this run."""

    name: str
    status: str  # "skipped" | "done" | "failed"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class PipelineRun:
    """A resolved pipeline bound to a run folder."""

    spec: PipelineSpec
    run_dir: Path
    source: str
    outcomes: list[StageOutcome] = field(default_factory=list)


def builtin_pipelines() -> dict[str, Path]:
    """Pipelines shipped with the package, by name."""
    root = resources.files("followkit") / "pipelines"
    return {p.name.removesuffix(".yaml"): Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def load_pipeline(path_or_name: str | None, overrides: list[str], run_dir: str | None = None) -> PipelineRun:
    """Read a pipeline file (or a built-in by name), apply overrides and substitute variables."""
    name = path_or_name or "default"
    builtins = builtin_pipelines()
    path = builtins[name] if name in builtins and not Path(name).exists() else Path(name)
    data = load_yaml(path)
    # Overrides address variables directly (`limit=10`) or any key by path (`stages...` is not allowed).
    var_overrides = [o if o.startswith("vars.") or "=" not in o else f"vars.{o}" for o in overrides]
    apply_overrides(data, var_overrides)
    try:
        written = PipelineFile.model_validate(data)
    except ValidationError as exc:
        raise InputError.from_validation(exc, path=str(path)) from None
    stages = expand_stages(written.stages, {"configs", "run", *written.vars}, str(path))
    spec = PipelineSpec(**{**written.model_dump(exclude={"stages"}), "stages": stages})
    resolve_jobs(spec.jobs, str(path))
    rd = Path(run_dir or spec.vars.get("run", f"runs/{spec.name}"))
    # ${configs}: the packaged accelerate and training configs, wherever followkit is installed.
    variables = {"configs": str(resources.files("followkit") / "configs")}
    variables.update({k: str(v) for k, v in spec.vars.items()})
    variables["run"] = str(rd)
    variables = resolve_vars(variables, str(path))
    resolved = spec.model_copy(
        update={
            "stages": [
                StageSpec(
                    name=s.name,
                    description=s.description,
                    args=[_subst(a, variables, path, s.name) for a in s.args],
                    inputs=[_subst(a, variables, path, s.name) for a in s.inputs],
                    outputs=[_subst(a, variables, path, s.name) for a in s.outputs],
                    launcher=[_subst(a, variables, path, s.name) for a in s.launcher],
                    after=s.after,
                    when=None if s.when is None else _subst(s.when, variables, path, s.name),
                )
                for s in spec.stages
            ],
            "vars": variables,
        }
    )
    check_outputs(resolved.stages, str(path))
    return PipelineRun(resolved, rd, str(path))


def expand_stages(entries: list[StageEntry], var_names: set[str], where: str) -> list[StageSpec]:
    """The stages a file's entries stand for: every foreach item written out, and `after` and
    `inputs_from` turned into earlier stages' names and outputs. Text only (${var} of the pipeline's
    vars stays for `load_pipeline` to substitute), so the result is what hand-written copies give."""
    stages: dict[str, StageSpec] = {}
    written_as: dict[str, tuple[str, dict[str, str]]] = {}  # stage name -> (its entry's name, its item)
    groups: dict[str, list[str]] = {}  # a foreach entry's name as written -> the names of its stages
    for entry in entries:
        if entry.name in groups:
            raise InputError(f"two stages are written as '{entry.name}'", path=where, field="name")
        group = groups.setdefault(entry.name, []) if entry.foreach is not None else []
        for item in _foreach_items(entry, var_names, where):
            st = _write_out(entry, item, var_names, where)
            if st.name in stages:
                first, second = _which(st.name, *written_as[st.name]), _which(st.name, entry.name, item)
                which = f": {first} and {second}" if first != second else ""
                raise InputError(f"two stages are named '{st.name}'{which}", path=where, field="name")
            after = _earlier(st.name, st.after, stages, groups, where, "after")
            read_from = _fill(entry, item, "inputs_from", var_names, where)
            read = _earlier(st.name, read_from, stages, groups, where, "inputs_from")
            for r in read:
                if not r.outputs:
                    raise InputError(
                        f"stage '{st.name}' reads the outputs of '{r.name}', which declares none",
                        path=where,
                        field="inputs_from",
                    )
            st = st.model_copy(
                update={
                    "after": [s.name for s in after],
                    "inputs": [*st.inputs, *(o for r in read for o in r.outputs)],
                }
            )
            stages[st.name] = st
            written_as[st.name] = (entry.name, item)
            group.append(st.name)
    return list(stages.values())


def _which(name: str, entry: str, item: dict[str, str]) -> str:
    """A stage as its writer sees it: 'eval_sft', or 'eval_${m}' with m=sft."""
    if not item:
        return f"'{name}'"
    return f"'{entry}' with " + ", ".join(f"{k}={v}" for k, v in item.items())


def _earlier(
    name: str,
    refs: list[str],
    stages: dict[str, StageSpec],
    groups: dict[str, list[str]],
    where: str,
    field: str,
) -> list[StageSpec]:
    """The earlier stages `refs` names: a stage's name, or a foreach entry's name for all of its stages."""
    out: list[StageSpec] = []
    for ref in refs:
        if ref in stages:
            out.append(stages[ref])
        elif groups.get(ref):
            out.extend(stages[n] for n in groups[ref])
        else:
            close = difflib.get_close_matches(ref, [*stages, *(g for g in groups if groups[g])], n=1)
            verb = "runs after" if field == "after" else "reads the outputs of"
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(
                f"stage '{name}' {verb} '{ref}', which is not an earlier stage{hint}", path=where, field=field
            )
    return out


def _foreach_items(entry: StageEntry, var_names: set[str], where: str) -> list[dict[str, str]]:
    """The items of an entry's `foreach` as {variable: value} ({} alone without one); bad ones refused."""
    what = f"stage '{entry.name}'"
    fe = entry.foreach

    def bad(why: str, field: str = "foreach") -> InputError:
        return InputError(f"{what}: {why}", path=where, field=field)

    if fe is None:
        used = _VAR_RE.findall(entry.name)
        if used:
            raise bad(f"its name uses ${{{used[0]}}}, but it has no foreach", "name")
        return [{}]
    shape = "foreach takes {VAR: [values]} or a list of mappings [{VAR: value, ...}, ...]"
    if isinstance(fe, dict):
        if len(fe) != 1:
            raise bad(f"{shape}; for several variables that change together, the list")
        ((var, values),) = fe.items()
        if not isinstance(values, list):
            raise bad(f"{shape}, not {{{var}: {type(values).__name__}}}")
        items = [{var: v} for v in values]
    elif isinstance(fe, list):
        if not all(isinstance(x, dict) for x in fe):
            raise bad(shape)
        items = fe
    else:
        raise bad(f"{shape}, not a {type(fe).__name__}")
    if not items:
        raise bad("foreach has no items")
    keys = list(items[0])
    text = json.dumps(entry.model_dump(exclude={"foreach"}))
    for var in items[0]:
        if not isinstance(var, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            raise bad(f"foreach variable {var!r} is not a name (a letter or _, then letters, digits or _)")
        if var in var_names:
            raise bad(f"foreach variable '{var}' is also in vars: give one of them another name")
        if f"${{{var}}}" not in text:
            raise bad(f"foreach variable '{var}' is used nowhere in the stage")
    out = []
    for n, item in enumerate(items, 1):
        if set(item) != set(keys):
            raise bad(
                f"foreach item {n} sets {', '.join(map(str, item)) or 'nothing'}, item 1 sets {', '.join(keys)}"
            )
        for var, v in item.items():
            if v is None or isinstance(v, list | dict):
                raise bad(f"foreach item {n}: {var} must be a plain value, not {type(v).__name__}")
            for ref in _VAR_RE.findall(str(v)):
                if ref not in var_names:
                    raise bad(f"foreach item {n}: {var} uses ${{{ref}}}, which is not in vars")
        out.append({k: str(v) for k, v in item.items()})
    return out


_FILLED = ("args", "inputs", "outputs", "launcher", "when")
"""The fields where a ${var} is a pipeline variable (substituted by `load_pipeline`)."""


def _fill(entry: StageEntry, item: dict[str, str], field: str, var_names: set[str], where: str) -> Any:
    """One field of an entry with the item's variables substituted; an unknown ${var} is refused."""
    value = getattr(entry, field)
    if not item:
        return value

    def repl(m: re.Match) -> str:
        key = m.group(1)
        if key in item:
            return item[key]
        if field == "name":
            why = "which is not a foreach variable"
        elif field in _FILLED and key not in var_names:
            why = f"which is in neither vars nor its foreach ({', '.join(item)})"
        else:
            return m.group(0)
        raise InputError(f"stage '{entry.name}' uses ${{{key}}}, {why}", path=where, field=field)

    if value is None:
        return None
    if isinstance(value, list):
        return [_VAR_RE.sub(repl, v) for v in value]
    return _VAR_RE.sub(repl, value)


def _write_out(entry: StageEntry, item: dict[str, str], var_names: set[str], where: str) -> StageSpec:
    """An entry written out for one foreach item (as it is, without one)."""
    fields = {f: _fill(entry, item, f, var_names, where) for f in StageSpec.model_fields}
    if not re.fullmatch(r"[A-Za-z0-9_-]+", fields["name"]):
        raise InputError(
            f"stage {_which(fields['name'], entry.name, item)} is named '{fields['name']}': "
            "a name is letters, digits, _ and -",
            path=where,
            field="name",
        )
    return StageSpec(**fields)


def check_outputs(stages: list[StageSpec], where: str) -> None:
    """No stage reads what it writes itself, and no two stages write the same file (the later would
    silently replace the earlier's work on every run)."""
    owner: dict[Path, str] = {}
    for s in (s for s in stages if s.enabled):
        outs = {Path(o).resolve(): o for o in s.outputs}
        own = [i for i in s.inputs if Path(i).resolve() in outs]
        if own:
            raise InputError(f"stage '{s.name}' reads its own output {own[0]}", path=where, field="stages")
        for resolved_path, shown in outs.items():
            if resolved_path in owner:
                raise InputError(
                    f"stages '{owner[resolved_path]}' and '{s.name}' both write {shown}",
                    path=where,
                    field="stages",
                )
            owner[resolved_path] = s.name


def resolve_vars(variables: dict[str, str], where: str) -> dict[str, str]:
    """Variables with their references to other variables substituted; a cycle is an error."""
    done: dict[str, str] = {}

    def value(name: str, chain: tuple[str, ...]) -> str:
        if name in done:
            return done[name]
        if name in chain:
            cycle = " -> ".join((*chain[chain.index(name) :], name))
            raise InputError(
                f"variables refer to each other in a cycle: {cycle}", path=where, field=f"vars.{name}"
            )

        def repl(m: re.Match) -> str:
            ref = m.group(1)
            if ref not in variables:
                raise InputError(f"uses ${{{ref}}}, which is not in vars", path=where, field=f"vars.{name}")
            return value(ref, (*chain, name))

        done[name] = _VAR_RE.sub(repl, variables[name])
        return done[name]

    return {k: value(k, ()) for k in variables}


def _subst(text: str, variables: dict[str, str], path: Path, stage: str) -> str:
    def repl(m: re.Match) -> str:
        key = m.group(1)
        if key not in variables:
            raise InputError(
                f"stage '{stage}' uses ${{{key}}}, which is not in vars", path=str(path), field="vars"
            )
        return variables[key]

    return _VAR_RE.sub(repl, text)  # the variables themselves are already resolved


def stage_hash(stage: StageSpec) -> str:
    """Hash of a stage's arguments and the content of its input files."""
    h = hashlib.sha256()
    h.update(json.dumps([stage.launcher, stage.args]).encode())
    for inp in stage.inputs:
        p = Path(inp)
        if p.is_file():
            h.update(f"{inp}:{file_sha256(p)}".encode())
        elif p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                h.update(f"{f}:{file_sha256(f)}".encode())
        else:
            h.update(f"{inp}:missing".encode())
    return h.hexdigest()


def _record_path(run: PipelineRun, stage: StageSpec) -> Path:
    return run.run_dir / RECORD_DIR / f"{stage.name}.json"


def is_fresh(run: PipelineRun, stage: StageSpec) -> bool:
    """True when the stage's record matches its current hash and every output exists."""
    rec = _record_path(run, stage)
    if not rec.exists():
        return False
    try:
        saved = json.loads(rec.read_text())
    except json.JSONDecodeError:
        return False
    return saved.get("hash") == stage_hash(stage) and all(Path(o).exists() for o in stage.outputs)


MAX_AUTO_JOBS = 4


def resolve_jobs(jobs: int | str, where: str | None = None) -> int:
    """The number of stages run at once: a positive number, or 'auto' (CPUs, at most MAX_AUTO_JOBS)."""
    if jobs == "auto":
        return max(1, min(os.cpu_count() or 1, MAX_AUTO_JOBS))
    if isinstance(jobs, int) and jobs >= 1:
        return jobs
    raise InputError(f"jobs must be a positive number or 'auto', not {jobs!r}", path=where, field="jobs")


def _under(path: str, root: str) -> bool:
    p, r = Path(path), Path(root)
    return p == r or r in p.parents


def dependencies(stages: list[StageSpec]) -> dict[str, set[str]]:
    """For each stage, the earlier stages it waits for: producers of its inputs, and its `after`."""
    deps: dict[str, set[str]] = {}
    for i, st in enumerate(stages):
        need = set(st.after)
        for prev in stages[:i]:
            if any(_under(inp, out) or _under(out, inp) for inp in st.inputs for out in prev.outputs):
                need.add(prev.name)
        deps[st.name] = need
    return deps


@dataclass(frozen=True)
class StageRecords:
    """The record types (followkit.core.records.RECORD_TYPES names) a sub-command reads and writes."""

    reads: tuple[str, ...] = ()  # types it accepts in the JSONL file it reads (empty: not checked)
    flag: str | None = None  # the option naming that file; without it, every .jsonl input
    writes: tuple[tuple[str, str], ...] = ()  # (file name, record type) it writes


def _settings_models() -> Iterator[tuple[str, type]]:
    """(command words, settings model) for every followkit command built on a config model."""
    from followkit.commands import _click_app, register_commands

    register_commands()
    todo: list[tuple[str, Any]] = [("", _click_app())]
    while todo:
        path, cmd = todo.pop()
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            todo.append((f"{path} {name}".strip(), sub))
        model = getattr(getattr(cmd, "callback", None), "settings_model", None)
        if model is not None:
            yield path, model


def _variant(model: type) -> tuple[str, str | None, Any] | None:
    """(long flag, short flag, default) of the field a config's records depend on (`records_by`), or None."""
    by = getattr(model, "records_by", None)
    if by is None:
        return None
    field = model.model_fields[by]
    extra = field.json_schema_extra
    flags = list((extra.get("cli") or {}).get("flags") or []) if isinstance(extra, dict) else []
    long = next((f for f in flags if f.startswith("--")), "--" + by.replace("_", "-"))
    short = next((f for f in flags if not f.startswith("--")), None)
    return long, short, None if field.is_required() else field.default


def _stage_records(reads: Reads | None, writes: Writes) -> StageRecords:
    return StageRecords(
        tuple(record_name(t) for t in reads.types) if reads else (),
        reads.flag if reads else None,
        tuple((f, record_name(t)) for f, t in writes.items()),
    )


@functools.cache
def stage_records() -> dict[str, StageRecords]:
    """Sub-command (with its --format or --method) -> the records it reads and writes, from the
    `reads` / `writes` its config declares: what `check_chain` compares along a pipeline (STYLE 13).
    A command whose config declares neither is not checked."""
    table: dict[str, StageRecords] = {}
    for cmd, model in _settings_models():
        reads, writes = getattr(model, "reads", None), getattr(model, "writes", {})
        variant = _variant(model)
        if variant is None:
            if reads is not None or writes:
                table[cmd] = _stage_records(reads, writes)
            continue
        for value in typing.get_args(model.model_fields[model.records_by].annotation):
            r = reads.get(value) if isinstance(reads, dict) else reads
            table[f"{cmd} {variant[0]} {value}"] = _stage_records(r, writes.get(value, {}))
    return table


@functools.cache
def _variant_flags() -> dict[str, tuple[str, str | None, Any]]:
    """Command -> (long flag, short flag, default) of the field its records depend on."""
    return {cmd: v for cmd, model in _settings_models() if (v := _variant(model)) is not None}


def _option(args: list[str], *names: str | None) -> str | None:
    """The value of an option in an argument list (`--name VALUE` or `--name=VALUE`), else None."""
    for i, a in enumerate(args):
        for name in filter(None, names):
            if a == name and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(name + "="):
                return a.split("=", 1)[1]
    return None


def stage_command(args: list[str]) -> str:
    """The stage_records() key of a stage's arguments: the sub-command, with its --format or --method."""
    words = [a for a in args[:2] if not a.startswith("-")]
    cmd = " ".join(words[:2]) if words[:1] == ["synth"] else " ".join(words[:1])
    variants = _variant_flags()
    if cmd in variants:
        flag, short, default = variants[cmd]
        value = _option(args, flag, short) or default
        if value:
            cmd = f"{cmd} {flag} {value}"
    return cmd


def _written(stage: StageSpec, path: str) -> str | None:
    """The record type `stage` writes at `path` (an output file, or a file in an output folder)."""
    io = stage_records().get(stage_command(stage.args))
    if io is None:
        return None
    for out in stage.outputs:
        if _under(path, out):
            return dict(io.writes).get(Path(path).name)
    return None


def check_chain(run: PipelineRun) -> None:
    """Each enabled stage's input records against what its producer writes; a one-line InputError if not.

    The error names the stage, the file, the type it reads and the type the producing stage writes.
    """
    stages = run.spec.stages
    for i, st in enumerate(stages):
        io = stage_records().get(stage_command(st.args))
        if io is None or not io.reads or not st.enabled:
            continue
        named = _option(st.args, io.flag) if io.flag else None
        files = [named] if named else [p for p in st.inputs if p.endswith(".jsonl")]
        for f in files:
            for prev in reversed(stages[:i]):
                wrote = _written(prev, f)
                if wrote is None:
                    continue
                if wrote not in io.reads:
                    raise InputError(
                        f"stage '{st.name}' ({stage_command(st.args)}) reads {f} as {' or '.join(io.reads)}, "
                        f"but stage '{prev.name}' writes {wrote} records there",
                        path=run.source,
                        field="stages",
                    )
                break


def stage_threads(jobs: int) -> str | None:
    """OMP threads for each stage when `jobs` run at once; None keeps a user's own OMP_NUM_THREADS."""
    if os.environ.get("FOLLOWKIT_THREADS_DEFAULTED") != "1" and "OMP_NUM_THREADS" in os.environ:
        return None
    return str(max(1, (os.cpu_count() or 1) // jobs))


@dataclass
class _Running:
    stage: StageSpec
    proc: subprocess.Popen
    start: float
    log_path: Path | None


def run_pipeline(
    run: PipelineRun,
    only: list[str] | None = None,
    force: bool = False,
    log=print,
    jobs: int | None = None,
) -> list[StageOutcome]:
    """Run the stages, independent ones side by side, skipping fresh ones; stop at the first failure."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run.run_dir / "pipeline.json", {"source": run.source, **run.spec.model_dump()})
    n_jobs = jobs or resolve_jobs(run.spec.jobs)
    deps = dependencies(run.spec.stages)
    threads = stage_threads(n_jobs)
    pending = [s for s in run.spec.stages if not only or s.name in only]
    finished: set[str] = {s.name for s in run.spec.stages if only and s.name not in only}
    running: list[_Running] = []
    failed: list[str] = []
    while pending or running:
        # start what is ready, in file order, while there is room and nothing has failed
        for stage in list(pending):
            if failed or len(running) >= n_jobs:
                break
            if not deps[stage.name] <= finished:
                continue
            pending.remove(stage)
            if not stage.enabled:
                run.outcomes.append(StageOutcome(stage.name, "off", detail=f"when: {stage.when!r}"))
                log(f"[off ] {stage.name}: not asked for")
                finished.add(stage.name)
                continue
            if not force and is_fresh(run, stage):
                run.outcomes.append(
                    StageOutcome(stage.name, "skipped", detail="inputs and arguments unchanged")
                )
                log(f"[skip] {stage.name}: unchanged")
                finished.add(stage.name)
                continue
            running.append(_start(run, stage, n_jobs, threads, log))
        if failed and not running:
            break
        if not running:
            if pending:  # nothing can start: only possible after a failure upstream
                break
            continue
        time.sleep(0.2)
        for r in list(running):
            if r.proc.poll() is None:
                continue
            running.remove(r)
            if _finish(run, r, log):
                finished.add(r.stage.name)
            else:
                failed.append(r.stage.name)
    order = {s.name: i for i, s in enumerate(run.spec.stages)}
    run.outcomes.sort(key=lambda o: order.get(o.name, len(order)))
    _write_summary(run)
    if failed:
        bad = next(o for o in run.outcomes if o.name == failed[0])
        raise FollowkitError(
            f"stage '{bad.name}' failed ({bad.detail}); fix it and rerun: finished stages are kept"
        )
    return run.outcomes


def _start(run: PipelineRun, stage: StageSpec, n_jobs: int, threads: str | None, log) -> _Running:
    log(f"[run ] {stage.name}: followkit {' '.join(stage.args)}")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    prefix = stage.launcher or [sys.executable, "-m"]
    cmd = [*prefix, "followkit.cli", *stage.args]
    if n_jobs == 1:
        return _Running(stage, subprocess.Popen(cmd, env=env), time.time(), None)
    # Side by side, each stage writes to its own log: interleaved progress bars read as noise.
    log_path = run.run_dir / "logs" / f"{stage.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    return _Running(stage, proc, time.time(), log_path)


def _finish(run: PipelineRun, r: _Running, log) -> bool:
    """Record a finished stage; True on success."""
    stage, dt = r.stage, time.time() - r.start
    missing = [o for o in stage.outputs if not Path(o).exists()]
    rc = r.proc.returncode
    if rc != 0 or missing:
        why = f"exit code {rc}" if rc else f"missing outputs: {', '.join(missing)}"
        run.outcomes.append(StageOutcome(stage.name, "failed", dt, why))
        log(f"[fail] {stage.name}: {why}")
        if r.log_path is not None and r.log_path.exists():
            tail = r.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            for line in tail:
                log(f"       {line}")
            log(f"       (whole log: {r.log_path})")
        return False
    # The record is written only after success: a killed stage has none and is redone.
    write_json(
        _record_path(run, stage),
        {"stage": stage.name, "hash": stage_hash(stage), "args": stage.args, "seconds": round(dt, 2)},
    )
    run.outcomes.append(StageOutcome(stage.name, "done", dt))
    log(f"[done] {stage.name} in {dt:.1f}s")
    return True


def _write_summary(run: PipelineRun) -> None:
    write_json(
        run.run_dir / RECORD_DIR / "last_run.json",
        [
            {"stage": o.name, "status": o.status, "seconds": round(o.seconds, 2), "detail": o.detail}
            for o in run.outcomes
        ],
    )
