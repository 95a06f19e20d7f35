"""Bad input, command by command: exit 2, one line naming the file (and line), nothing written.

Every case runs `python -m followkit.cli ...` in a subprocess and asserts: exit code 2, exactly one
line on stderr that starts with "error:" and names the file (and `:LINE:` where the fault sits on
a line), no traceback, and an output folder whose bytes are unchanged (hashed before and after).
No case loads a model: each must fail validation before the first model call, which is the point.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# ------------------------------------------------------------------------------------ valid rows

CONSTRAINT = {"id": "punctuation:no_comma", "kwargs": {}, "text": "Do not use any commas."}
PROMPT = "Write a greeting.\n1. Do not use any commas.\n"

IFEVAL_PROMPT = {
    "key": 1,
    "prompt": "Write a greeting. Do not use any commas.",
    "instruction_id_list": ["punctuation:no_comma"],
    "kwargs": [{}],
}
IFEVAL_RESPONSE = {**IFEVAL_PROMPT, "response": "Hello there friend."}
IFBENCH_MULTITURN = {
    **IFEVAL_PROMPT,
    "messages": [
        {"role": "user", "content": "Write a greeting."},
        {"role": "assistant", "content": "Hello, friend."},
        {"role": "user", "content": "Now without any commas."},
    ],
}
INSTRUCTION = {"id": "i1", "task": "Write a greeting.", "constraints": [CONSTRAINT], "prompt": PROMPT}
SFT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
WINRATE = {"id": "p1", "prompt": "Write a greeting.", "response": "Hello there friend."}
TEACHER = {
    "id": "p1",
    "messages": [{"role": "user", "content": PROMPT}],
    "response": "Hello there friend.",
    "constraints": [CONSTRAINT],
}
SEED = {"id": "s1", "task": "Write a poem about the sea."}


def _response_rows() -> list[dict]:
    """Two Response records as `synth respond` writes them (one following, one not)."""
    from followkit.core.records import Instruction, as_row
    from followkit.synth.common import rule_verdicts, user_chat
    from followkit.synth.respond import response_record

    inst = Instruction.model_validate(INSTRUCTION)
    rows = []
    for s, text in enumerate(["Hello there friend.", "Hello, there, friend."]):
        vs = rule_verdicts(inst.constraints, text, inst.prompt)
        rows.append(as_row(response_record(inst, s, text, user_chat(inst.prompt), "scripted", {}, vs)))
    return rows


def _second(row: dict, **changes: object) -> dict:
    out = copy.deepcopy(row)
    for k in ("id", "key"):
        if k in out and isinstance(out[k], str):
            out[k] = out[k] + "b"
        elif k in out and isinstance(out[k], int):
            out[k] = out[k] + 1
    out.update(changes)
    return out


def _without(row: dict, key: str) -> dict:
    return {k: v for k, v in row.items() if k != key}


# ------------------------------------------------------------------------------------ the table


@dataclass
class Command:
    """One command: its argv with {IN} (the bad file) and {OUT}, a valid row, and its field faults."""

    name: str
    argv: list[str]
    row: dict
    missing: str  # a field every row needs
    dup_ids: bool = False  # duplicate ids are an error
    constraints: str | None = None  # "followkit" | "ifeval": where a constraint id sits
    extra_files: dict[str, list[dict]] = field(default_factory=dict)
    good_output: str = "results.json"


COMMANDS = [
    Command(
        "verify", ["verify", "{IN}", "--out", "{OUT}"], IFEVAL_RESPONSE, "response", constraints="ifeval"
    ),
    Command(
        "synth-respond",
        ["synth", "respond", "--out", "{OUT}", "--instructions", "{IN}", "--student", "embedded"],
        INSTRUCTION,
        "prompt",
        dup_ids=True,
        constraints="followkit",
        good_output="responses.jsonl",
    ),
    Command(
        "synth-pairs",
        ["synth", "pairs", "--out", "{OUT}", "--responses", "{IN}"],
        {},  # filled from _response_rows()
        "response",
        good_output="pairs_dpo.jsonl",
    ),
    Command(
        "synth-refine",
        ["synth", "refine", "--out", "{OUT}", "--responses", "{IN}", "--teacher", "rules"],
        {},
        "response",
        good_output="manifest.json",
    ),
    Command(
        "synth-compose",
        ["synth", "compose", "--out", "{OUT}", "--seeds", "{IN}", "--n", "2"],
        SEED,
        "task",
        good_output="instructions.jsonl",
    ),
    Command(
        "train",
        ["train", "--method", "sft", "--data", "{IN}", "--out", "{OUT}", "max_steps=1"],
        SFT,
        "messages",
        good_output="config.yaml",
    ),
    Command(
        "car",
        ["car", "--teacher", "a={IN}", "--teacher", "b={GOOD}", "--out", "{OUT}"],
        TEACHER,
        "response",
        dup_ids=True,
        constraints="followkit",
        good_output="car.json",
    ),
    Command(
        "winrate",
        ["winrate", "--responses", "{IN}", "--baseline", "{GOOD}", "--judge", "embedded", "--out", "{OUT}"],
        WINRATE,
        "response",
        dup_ids=True,
        good_output="winrate.json",
    ),
    Command(
        "eval",
        ["eval", "--benchmark", "ifeval:{IN}", "--out", "{OUT}"],
        IFEVAL_PROMPT,
        "prompt",
        dup_ids=True,
        constraints="ifeval",
    ),
    Command(
        "eval-ifbench-multiturn",
        ["eval", "--benchmark", "ifbench-multiturn:{IN}", "--out", "{OUT}"],
        IFBENCH_MULTITURN,
        "messages",
        dup_ids=True,
        constraints="ifeval",
    ),
]


@dataclass
class Case:
    """One bad input: the file's bytes, and the line the error must name (None: the file only)."""

    kind: str
    data: bytes | None  # None: the path does not exist
    line: int | None = None
    folder: bool = False


def _jsonl(*rows: dict) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _bad_constraint(cmd: Command, which: str) -> dict:
    row = _second(cmd.row)
    if cmd.constraints == "ifeval":
        if which == "id":
            row["instruction_id_list"] = ["punctuation:no_coma"]
        else:
            row["instruction_id_list"] = ["length_constraints:number_words"]
            row["kwargs"] = [{"num_words": "many", "relation": "at least"}]
    else:
        c = {**CONSTRAINT}
        if which == "id":
            c["id"] = "punctuation:no_coma"
        else:
            c.update(
                id="length_constraints:number_words", kwargs={"num_words": "many", "relation": "at least"}
            )
        row["constraints"] = [c]
    return row


def cases_for(cmd: Command) -> list[Case]:
    """The bad-input cases every JSONL-reading command gets, plus the field faults it has."""
    good = _jsonl(cmd.row)
    cases = [
        Case("missing-file", None),
        Case("folder", None, folder=True),
        Case("empty-file", b""),
        Case("blank-lines", b"\n  \n"),
        Case("non-utf8", good + b'{"id": "\xff\xfe"}\n', 2),
        Case("malformed-json", good + b'{"id": \n', 2),
        Case("deep-nesting", good + b"[" * 100_000 + b"]" * 100_000 + b"\n", 2),
        Case("5000-digit-int", good + b'{"id": ' + b"9" * 5000 + b"}\n", 2),
        Case("not-an-object", good + b"[1, 2]\n", 2),
        Case("missing-field", good + _jsonl(_without(_second(cmd.row), cmd.missing)), 2),
    ]
    if cmd.dup_ids:
        cases.append(Case("duplicate-id", good + _jsonl(cmd.row), 2))
    if cmd.constraints:
        cases.append(Case("misspelled-constraint-id", good + _jsonl(_bad_constraint(cmd, "id")), 2))
        cases.append(Case("bad-constraint-kwargs", good + _jsonl(_bad_constraint(cmd, "kwargs")), 2))
    return cases


def _folder_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "FOLLOWKIT_CACHE": str(tmp / "cache.sqlite"), "FOLLOWKIT_HOME": str(tmp / "home")}
    env["FOLLOWKIT_OFFLINE"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    return env


def run_cli(argv: list[str], tmp: Path) -> subprocess.CompletedProcess:
    """`python -m followkit.cli ARGV` in tmp, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "followkit.cli", *argv],
        cwd=tmp,
        env=_env(tmp),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_refused(proc: subprocess.CompletedProcess, names: str, line: int | None, out: Path, before: str):
    """Exit 2, one 'error:' line naming the file (and line), no traceback, output unchanged."""
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-2000:]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:], proc.stdout[-1000:])
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error:"), err
    assert names in err, (names, err)
    if line is not None:
        assert f"{names}:{line}:" in err, (line, err)
    assert _folder_hash(out) == before, "the output folder changed"


def _prepare_out(tmp: Path, cmd: Command) -> Path:
    out = tmp / "out"
    out.mkdir()
    (out / "keep.txt").write_text("a user's file\n", encoding="utf-8")
    earlier = _response_rows()[0] if cmd.good_output == "responses.jsonl" else {"id": "earlier"}
    good = {".jsonl": _jsonl(earlier).decode(), ".json": '{"earlier": true}\n'}
    (out / cmd.good_output).write_text(
        good.get(Path(cmd.good_output).suffix, "earlier: true\n"), encoding="utf-8"
    )
    return out


def _fill(cmd: Command) -> Command:
    if not cmd.row:
        cmd = copy.copy(cmd)
        cmd.row = _response_rows()[1]
    return cmd


PARAMS = [
    pytest.param(cmd, case, id=f"{cmd.name}-{case.kind}")
    for cmd in COMMANDS
    for case in cases_for(_fill(cmd))
]


@pytest.mark.parametrize(("cmd", "case"), PARAMS)
def test_bad_jsonl_input(tmp_path: Path, cmd: Command, case: Case) -> None:
    cmd = _fill(cmd)
    out = _prepare_out(tmp_path, cmd)
    bad = tmp_path / "bad.jsonl"
    if case.folder:
        bad.mkdir()
    elif case.data is not None:
        bad.write_bytes(case.data)
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl(cmd.row))
    argv = [
        a.replace("{IN}", str(bad)).replace("{OUT}", str(out)).replace("{GOOD}", str(good)) for a in cmd.argv
    ]
    before = _folder_hash(out)
    proc = run_cli(argv, tmp_path)
    assert_refused(proc, str(bad), case.line, out, before)


# ------------------------------------------------------------------------------------ YAML configs

YAML_CASES = [
    Case("missing-file", None),
    Case("folder", None, folder=True),
    Case("non-utf8", b'seed: 1\nn: "\xff"\n', 2),
    Case("duplicate-key", b"seed: 1\nseed: 2\n", 2),
    Case("list-valued-key", b"? [seed, n]\n: 1\n", 1),
    Case("deep-nesting", b"x: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
    Case("5000-digit-int", b"seed: " + b"9" * 5000 + b"\n"),
    Case("invalid-yaml", b"seed: [1, 2\n"),
    Case("not-a-mapping", b"- 1\n- 2\n"),
    Case("unknown-field", b"sed: 1\n"),
    Case("wrong-type", b"seed: [1, 2]\n"),
]

YAML_COMMANDS = [
    ("synth-compose", ["synth", "compose", "--out", "{OUT}", "--config", "{IN}"], "instructions.jsonl"),
    (
        "train",
        ["train", "--method", "sft", "--data", "{GOOD}", "--out", "{OUT}", "--config", "{IN}"],
        "config.yaml",
    ),
]


@pytest.mark.parametrize(
    ("argv", "good_output", "case"),
    [
        pytest.param(argv, good, case, id=f"{name}-{case.kind}")
        for name, argv, good in YAML_COMMANDS
        for case in YAML_CASES
    ],
)
def test_bad_yaml_config(tmp_path: Path, argv: list[str], good_output: str, case: Case) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / good_output).write_text("earlier: true\n" if good_output.endswith(".yaml") else '{"id": "x"}\n')
    bad = tmp_path / "bad.yaml"
    if case.folder:
        bad.mkdir()
    elif case.data is not None:
        bad.write_bytes(case.data)
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl(SFT))
    argv = [a.replace("{IN}", str(bad)).replace("{OUT}", str(out)).replace("{GOOD}", str(good)) for a in argv]
    before = _folder_hash(out)
    proc = run_cli(argv, tmp_path)
    assert_refused(proc, str(bad), case.line, out, before)


# ------------------------------------------------------------------------------------ run (pipeline files)


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.kind) for c in YAML_CASES if c.kind not in ("unknown-field", "wrong-type")]
)
def test_bad_pipeline_file(tmp_path: Path, case: Case) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x\n")
    bad = tmp_path / "bad.yaml"
    if case.folder:
        bad.mkdir()
    elif case.data is not None:
        bad.write_bytes(case.data)
    before = _folder_hash(out)
    proc = run_cli(["run", str(bad), "--out", str(out)], tmp_path)
    assert_refused(proc, str(bad), case.line, out, before)


def test_pipeline_variable_cycle_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    bad = tmp_path / "cycle.yaml"
    bad.write_text(
        "name: cycle\nvars:\n  a: ${b}\n  b: ${a}\nstages:\n  - name: s\n    args: [verify, '${a}']\n"
    )
    before = _folder_hash(out)
    proc = run_cli(["run", str(bad), "--out", str(out), "--dry-run"], tmp_path)
    assert_refused(proc, str(bad), None, out, before)


# ------------------------------------------------------------------------------------ report


def _report_case(tmp: Path, kind: str) -> Path:
    rd = tmp / "run"
    if kind == "missing":
        return rd
    rd.mkdir()
    (rd / "notes.txt").write_text("not a run\n")
    if kind == "file":
        (tmp / "file").write_text("x\n")
        return tmp / "file"
    if kind == "users-report":
        ev = rd / "eval" / "base"
        ev.mkdir(parents=True)
        (ev / "results.json").write_text('{"results": {}}\n')
        (rd / "report.md").write_text("# My own notes\n\nNever overwrite me.\n")
    if kind == "users-html":
        ev = rd / "eval" / "base"
        ev.mkdir(parents=True)
        (ev / "results.json").write_text('{"results": {}}\n')
        (rd / "report.html").write_text(
            "<html><head><title>Mine</title></head><body>Never overwrite me.</body></html>\n"
        )
    return rd


@pytest.mark.parametrize("kind", ["missing", "file", "no-results", "users-report", "users-html"])
def test_report_refuses(tmp_path: Path, kind: str) -> None:
    target = _report_case(tmp_path, kind)
    watch = target if target.is_dir() else tmp_path
    before = _folder_hash(watch) if watch.exists() else ""
    proc = run_cli(["report", str(target)], tmp_path)
    names = {"users-report": str(target / "report.md"), "users-html": str(target / "report.html")}.get(
        kind, str(target)
    )
    assert_refused(proc, names, None, watch if watch.exists() else tmp_path, before or _folder_hash(tmp_path))


def test_report_recognises_its_own_report(tmp_path: Path) -> None:
    from followkit.report.html import HTML_MARKER
    from followkit.report.write import REPORT_MARKER, written_by_followkit

    assert REPORT_MARKER.startswith("<!--")
    (tmp_path / "report.md").write_text(REPORT_MARKER + "\n# anything\n")
    (tmp_path / "report.html").write_text(f"<!doctype html><html><head>{HTML_MARKER}</head></html>")
    # the marker check is what lets a rerun replace the file
    assert written_by_followkit(tmp_path / "report.md") and written_by_followkit(tmp_path / "report.html")


# ------------------------------------------------------------------------------------ writers and secrets


def test_writers_escape_lone_surrogates(tmp_path: Path) -> None:
    from followkit.core.io import AppendLog, read_jsonl, write_json, write_jsonl

    rec = {"id": "a", "text": "bad \ud800 text"}
    write_jsonl(tmp_path / "a.jsonl", [rec])
    write_json(tmp_path / "a.json", rec)
    with AppendLog(tmp_path / "b.jsonl") as log:
        log.append(rec)
    assert read_jsonl(tmp_path / "a.jsonl") == [rec]  # escaped, so it reads back as it was
    assert read_jsonl(tmp_path / "b.jsonl") == [rec]
    assert json.loads((tmp_path / "a.json").read_text(encoding="utf-8")) == rec
    (tmp_path / "a.jsonl").read_bytes().decode("utf-8")  # valid UTF-8 on disk


def test_credentials_are_redacted_when_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from followkit.core.io import write_json, write_jsonl
    from followkit.core.redact import redact

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secretsecretsecret123")
    assert redact("http://user:KEY@host:8000/v1") == "http://user:***@host:8000/v1"
    assert "KEY" not in redact("HTTP 500: upstream http://u:KEY@x/v1 failed")
    assert redact("Authorization: Bearer abcdefghijkl") == "Authorization: Bearer ***"
    doc = {"base_url": "http://user:KEY@host/v1", "error": "bad key sk-secretsecretsecret123"}
    write_json(tmp_path / "r.json", doc)
    write_jsonl(tmp_path / "f.jsonl", [doc])
    for name in ("r.json", "f.jsonl"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "KEY@" not in text and "sk-secret" not in text, text


def test_credentials_never_reach_stderr(tmp_path: Path) -> None:
    proc = run_cli(
        [
            "eval",
            "--benchmark",
            "ifeval:nope.jsonl",
            "--model",
            "openai:m",
            "--base-url",
            "http://u:KEY@127.0.0.1:9/v1",
        ],
        tmp_path,
    )
    assert proc.returncode == 2
    assert "KEY" not in proc.stderr + proc.stdout


def test_openai_cache_namespace_is_redacted() -> None:
    from followkit.backends.openai import OpenAIBackend

    b = OpenAIBackend("m", base_url="http://user:KEY@127.0.0.1:9/v1")
    assert "KEY" not in b.cache_identity() and "KEY" not in json.dumps(b.describe())


def test_empty_completions_are_failures_and_not_cached(tmp_path: Path) -> None:
    from followkit.backends.base import SamplingParams
    from followkit.backends.cache import CachedBackend, RequestCache
    from followkit.backends.scripted import ScriptedBackend

    answers = iter(["", "ok"])
    backend = CachedBackend(
        ScriptedBackend(lambda chat, i: next(answers)), RequestCache(tmp_path / "c.sqlite")
    )
    chat = [{"role": "user", "content": "hi"}]
    first = backend.complete([chat], SamplingParams())
    assert backend.cache_stats["failed"] == 1 and backend.cache_stats["new"] == 0
    assert first[0].texts == [""]
    second = backend.complete([chat], SamplingParams())  # asked again: the empty answer was not cached
    assert second[0].texts == ["ok"] and not second[0].cached


def test_respond_refuses_old_responses_to_a_changed_prompt(tmp_path: Path) -> None:
    from followkit.backends.scripted import ScriptedBackend
    from followkit.core.errors import InputError
    from followkit.synth.respond import RespondConfig, run_respond

    src = tmp_path / "instructions.jsonl"
    src.write_bytes(_jsonl(INSTRUCTION))
    student = ScriptedBackend(lambda chat, i: f"Hello there friend {i}.")
    run_respond(RespondConfig(n=2), tmp_path, student=student, progress=False)
    before = (tmp_path / "responses.jsonl").read_bytes()
    run_respond(RespondConfig(n=2), tmp_path, student=student, progress=False)  # same inputs: resumes
    assert (tmp_path / "responses.jsonl").read_bytes() == before
    src.write_bytes(_jsonl({**INSTRUCTION, "prompt": "Another question.\n1. Do not use any commas.\n"}))
    with pytest.raises(InputError, match="another prompt"):
        run_respond(RespondConfig(n=2), tmp_path, student=student, progress=False)
    with pytest.raises(InputError, match="another sampling"):
        src.write_bytes(_jsonl(INSTRUCTION))
        run_respond(RespondConfig(n=2, temperature=0.3), tmp_path, student=student, progress=False)
    assert (tmp_path / "responses.jsonl").read_bytes() == before


def test_respond_refuses_old_responses_of_another_student(tmp_path: Path) -> None:
    from followkit.backends.scripted import ScriptedBackend
    from followkit.core.errors import InputError
    from followkit.synth.respond import STUDENT_FINGERPRINT, RespondConfig, run_respond

    src = tmp_path / "instructions.jsonl"
    src.write_bytes(_jsonl(INSTRUCTION))
    student = ScriptedBackend(lambda chat, i: f"Hello there friend {i}.", model_id="a")
    cfg = RespondConfig(n=2, student="hf:org/a")
    run_respond(cfg, tmp_path, student=student, progress=False)
    before = (tmp_path / "responses.jsonl").read_bytes()
    run_respond(cfg, tmp_path, student=student, progress=False)  # the same student resumes
    assert (tmp_path / "responses.jsonl").read_bytes() == before
    for other in (
        cfg.model_copy(update={"student": "hf:org/b"}),
        cfg.model_copy(update={"base_url": "http://h/v1"}),
    ):
        with pytest.raises(
            InputError, match=r"responses\.jsonl: holds responses of another (student|base_url) "
        ):
            run_respond(other, tmp_path, student=student, progress=False)
    # The same spec, but the loaded student is another model (or the folder predates the
    # fingerprint): refused at load, before any answer is added.
    src.write_bytes(_jsonl(INSTRUCTION, {**INSTRUCTION, "id": "i2"}))
    (tmp_path / STUDENT_FINGERPRINT).unlink()
    with pytest.raises(InputError, match=r"another student \('scripted:a', not 'scripted:b'\)"):
        run_respond(cfg, tmp_path, student=ScriptedBackend(student.fn, model_id="b"), progress=False)
    assert (tmp_path / "responses.jsonl").read_bytes() == before
    assert not (tmp_path / STUDENT_FINGERPRINT).exists()  # written only once the student is accepted
    run_respond(cfg, tmp_path, student=student, progress=False)
    assert (tmp_path / "responses.jsonl").read_bytes().startswith(before)
    assert json.loads((tmp_path / STUDENT_FINGERPRINT).read_text()) == {
        "student": "hf:org/a",
        "base_url": None,
    }


# ------------------------------------------------------------------------ response rows, field by field


def _response_fault(kind: str) -> dict:
    row = _second(_response_rows()[1])
    if kind == "verdict-a-string":
        row["verdicts"] = ["pass"]
    elif kind == "verdict-without-strict":
        row["verdicts"] = [{k: v for k, v in row["verdicts"][0].items() if k != "strict"}]
    elif kind == "id-a-list":
        row["id"] = ["s1"]
    elif kind == "response-null":
        row["response"] = None
    elif kind == "response-a-number":
        row["response"] = 42
    elif kind == "messages-a-string":
        row["messages"] = "Write a poem."
    elif kind == "duplicate-key":
        row["key"] = _response_rows()[0]["key"]
    return row


RESPONSE_FAULTS = [
    "verdict-a-string",
    "verdict-without-strict",
    "id-a-list",
    "response-null",
    "response-a-number",
    "messages-a-string",
    "duplicate-key",
]


@pytest.mark.parametrize("kind", RESPONSE_FAULTS)
@pytest.mark.parametrize(
    ("argv", "output"),
    [
        (["synth", "pairs", "--out", "{OUT}", "--responses", "{IN}"], "pairs_dpo.jsonl"),
        (
            ["synth", "refine", "--out", "{OUT}", "--responses", "{IN}", "--teacher", "rules"],
            "sft_refine.jsonl",
        ),
    ],
    ids=["synth-pairs", "synth-refine"],
)
def test_bad_response_field(tmp_path: Path, argv: list[str], output: str, kind: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / output).write_text(_jsonl({"id": "earlier"}).decode(), encoding="utf-8")
    bad = tmp_path / "responses.jsonl"
    bad.write_bytes(_jsonl(_response_rows()[0]) + _jsonl(_response_fault(kind)))
    before = _folder_hash(out)
    proc = run_cli([a.replace("{IN}", str(bad)).replace("{OUT}", str(out)) for a in argv], tmp_path)
    assert_refused(proc, str(bad), 2, out, before)


def test_verify_out_naming_a_file(tmp_path: Path) -> None:
    data = tmp_path / "responses.jsonl"
    data.write_bytes(_jsonl(IFEVAL_RESPONSE))
    target = tmp_path / "results.txt"
    target.write_text("a user's file\n", encoding="utf-8")
    proc = run_cli(["verify", str(data), "--out", str(target)], tmp_path)
    assert_refused(proc, str(target), None, tmp_path / "empty", _folder_hash(tmp_path / "empty"))
    assert target.read_text(encoding="utf-8") == "a user's file\n"


@pytest.mark.parametrize(
    ("kind", "data"),
    [("malformed", b'{"results": \n'), ("not-utf8", b'{"model": "\xff"}\n'), ("not-an-object", b"[1]\n")],
)
def test_report_on_a_bad_results_file(tmp_path: Path, kind: str, data: bytes) -> None:
    run = tmp_path / "run"
    ev = run / "eval" / "baseline"
    ev.mkdir(parents=True)
    (ev / "samples.jsonl").write_bytes(_jsonl({"id": "a", "prompt": "p", "response": "r"}))
    (ev / "results.json").write_bytes(data)
    (run / "report.md").write_text(
        "<!-- written by `followkit report`: rerunning it replaces this file -->\nold\n"
    )
    before = _folder_hash(run)
    proc = run_cli(["report", str(run)], tmp_path)
    assert_refused(proc, str(ev / "results.json"), None, run, before)


def test_eval_refuses_a_benchmark_file_with_a_repeated_id(tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    bench.write_bytes(_jsonl(INSTRUCTION) + _jsonl(INSTRUCTION))
    out = tmp_path / "out"
    out.mkdir()
    before = _folder_hash(out)
    proc = run_cli(["eval", "--benchmark", f"followkit-bench:{bench}", "--out", str(out / "e")], tmp_path)
    assert_refused(proc, str(bench), 2, out, before)
    assert "duplicate id" in proc.stderr


def test_check_unique_ids_names_the_repeated_item() -> None:
    from followkit.core.errors import InputError
    from followkit.evaluate.base import EvalItem
    from followkit.evaluate.runner import check_unique_ids

    check_unique_ids([EvalItem(id="a", messages=[]), EvalItem(id="b", messages=[])], "f.jsonl")
    with pytest.raises(InputError, match="duplicate item id 'a' \\(item 3\\)"):
        check_unique_ids([EvalItem(id=i, messages=[]) for i in ("a", "b", "a")], "f.jsonl")
