"""JSONL in and out: errors that name file and line, atomic writes, and resumable appends."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from followkit.core.errors import InputError
from followkit.core.redact import redact

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_warned_surrogates = False


def _escape_surrogates(text: str) -> str:
    """Lone surrogates (not encodable as UTF-8) as JSON \\uXXXX escapes, with a one-time warning.

    The escape keeps the record as it was read (json.loads gives the same string back), where
    writing the raw code point would crash the writer or produce invalid UTF-8.
    """
    global _warned_surrogates
    if not _warned_surrogates:
        _warned_surrogates = True
        sys.stderr.write(
            "warning: text with lone surrogates (invalid Unicode, e.g. \\ud800) written as \\uXXXX escapes\n"
        )
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _safe_text(text: str) -> str:
    """JSON text ready to write as UTF-8: credentials redacted, lone surrogates escaped."""
    text = redact(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _escape_surrogates(text)
    return text


def dumps(record: Any) -> str:
    """One JSONL line (UTF-8 text kept as is, credentials redacted, no trailing newline)."""
    return _safe_text(json.dumps(record, ensure_ascii=False, separators=(", ", ": ")))


def _decode_line(raw: bytes, path: Path, lineno: int) -> str:
    if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
            path=str(path),
            line=lineno,
        ) from None


def _loads(line: str, path: Path, lineno: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON ({exc.msg} at column {exc.colno})", path=str(path), line=lineno
        ) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", path=str(path), line=lineno) from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4,300-digit limit
        msg = str(exc).split(";")[0].split(":")[0]
        raise InputError(f"unreadable JSON value ({msg})", path=str(path), line=lineno) from None


def check_input_file(path: str | Path, what: str = "file") -> Path:
    """The path, checked to be an existing regular file (not a folder); InputError otherwise."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"is a folder, expected a {what}", path=str(p))
    if not p.exists():
        raise InputError("no such file", path=str(p))
    return p


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, record) for each non-blank line; a bad line raises InputError naming file and line.

    Bad means: not UTF-8, malformed JSON, nested too deeply, an integer too long to read, or not
    a JSON object.
    """
    p = check_input_file(path, "JSONL file")
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=str(p)) from None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            line = _decode_line(raw, p, lineno)
            if not line.strip():
                continue
            rec = _loads(line, p, lineno)
            if not isinstance(rec, dict):
                raise InputError(
                    f"expected a JSON object, got {type(rec).__name__}", path=str(p), line=lineno
                )
            yield lineno, rec


def read_json(path: str | Path) -> dict:
    """A JSON file holding one object; unreadable, not UTF-8, malformed or not an object is one InputError."""
    p = check_input_file(path, "JSON file")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path=str(p)) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", path=str(p)
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc.msg})", path=str(p), line=exc.lineno) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", path=str(p)) from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4,300-digit limit
        raise InputError(
            f"unreadable JSON value ({str(exc).split(';')[0].split(':')[0]})", path=str(p)
        ) from None
    if not isinstance(doc, dict):
        raise InputError(f"expected a JSON object, got {type(doc).__name__}", path=str(p))
    return doc


def read_jsonl(path: str | Path) -> list[dict]:
    """All records of a JSONL file."""
    return [rec for _, rec in iter_jsonl(path)]


def require(rec: dict, field: str, kind: type | tuple[type, ...], path: str | Path, line: int) -> Any:
    """rec[field], checked for presence and type; InputError naming file, line and field otherwise."""
    if field not in rec:
        raise InputError("missing", path=str(path), line=line, field=field)
    value = rec[field]
    if not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(
            f"expected {want}, got {type(value).__name__}", path=str(path), line=line, field=field
        )
    return value


def _umask_mode() -> int:
    # mkstemp creates 0600 files; a written output should get the mode open() would give it.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def as_row(record: Any) -> dict:
    """A record as its JSON row: a core.records type with the fields as read or set, in declaration
    order, defaults not added; a dict as it is."""
    if isinstance(record, dict):
        return record
    return record.model_dump(mode="json", exclude_unset=True)


def write_jsonl(path: str | Path, records: Iterable[dict]) -> int:
    """Write records atomically (temp file + rename); returns the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(dumps(rec) + "\n")
                n += 1
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def write_json(path: str | Path, obj: Any) -> None:
    """Write a JSON document atomically, indented (credentials redacted, lone surrogates escaped)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = _safe_text(json.dumps(obj, ensure_ascii=False, indent=2, default=str)) + "\n"
    write_text_atomic(p, text)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a text file atomically: a temporary name in the same folder, renamed on success."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class AppendLog:
    """An append-only JSONL output that survives SIGKILL and resumes: records are keyed by `key`.

    On open, a torn last line (a write cut by a kill) is truncated away, and the keys already
    written are loaded, so a rerun skips them and the final file has no duplicates.
    """

    def __init__(self, path: str | Path, key: str = "id"):
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, dict] = {}
        if self.path.exists():
            self._repair_and_load()
        self._fh = self.path.open("a", encoding="utf-8")

    def _repair_and_load(self) -> None:
        data = self.path.read_bytes()
        good = data.rfind(b"\n") + 1
        if good != len(data):  # a torn final line from a killed writer
            with self.path.open("r+b") as fh:
                fh.truncate(good)
            data = data[:good]
        for lineno, raw in enumerate(data.splitlines(), start=1):
            line = _decode_line(raw, self.path, lineno)
            if line.strip():
                rec = _loads(line, self.path, lineno)
                if not isinstance(rec, dict) or self.key not in rec:
                    raise InputError(
                        f"not a record of this output (no '{self.key}'): delete the file to start over",
                        path=str(self.path),
                        line=lineno,
                    )
                self.done[str(rec[self.key])] = rec

    def __contains__(self, key: object) -> bool:
        return str(key) in self.done

    def append(self, record: Any) -> None:
        """Write one record (a dict, or a core.records type written as records.write does) and flush
        it to the OS, so a kill after this call loses nothing."""
        record = as_row(record)
        k = str(record[self.key])
        if k in self.done:
            return
        self._fh.write(dumps(record) + "\n")
        self._fh.flush()
        self.done[k] = record

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (data hashes in results and manifests)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text_sha256(text: str) -> str:
    """Hex SHA-256 of a string (chat-template and config hashes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
