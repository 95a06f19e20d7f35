"""Config files: plain YAML read strictly (duplicate keys, bad bytes, deep nesting are errors), plus `a.b=1` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

from followkit.errors import InputError

M = TypeVar("M", bound=BaseModel)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate mapping keys."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        where = {"path": str(loader.name), "line": key_node.start_mark.line + 1}
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise InputError(f"a key must be a plain value, got a {type(key).__name__}", **where)
        if key in seen:
            raise InputError(f"duplicate key '{key}'", field=str(key), **where)
        seen[key] = loader.construct_object(value_node, deep=deep)
    return seen


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_text(p: Path, what: str) -> str:
    """A config file's text; a folder, a missing file or non-UTF-8 bytes raise InputError."""
    if p.is_dir():
        raise InputError(f"is a folder, expected a {what}", path=str(p))
    if not p.exists():
        raise InputError(f"no such {what}", path=str(p))
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", path=str(p), line=line) from None


def load_yaml(path: str | Path, what: str = "config file") -> dict:
    """A YAML mapping from a file; duplicate or non-scalar keys and unreadable values rejected."""
    p = Path(path)
    text = _read_text(p, what)
    loader = _UniqueKeyLoader(text)
    loader.name = str(p)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            path=str(p),
            line=mark.line + 1 if mark else None,
        ) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", path=str(p)) from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4,300-digit limit
        raise InputError(f"unreadable value ({str(exc).split(';')[0]})", path=str(p)) from None
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"a {what} must be a mapping", path=str(p))
    return data


def key_lines(path: str | Path) -> dict[str, int]:
    """The line of each top-level key of a YAML mapping file, for errors that name a field's line."""
    try:
        node = yaml.compose(_read_text(Path(path), "config file"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, InputError, RecursionError, ValueError):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def override_value(item: str) -> tuple[str, Any]:
    """(key, value) of a `key=value` override, the value read as YAML; a bad one raises InputError."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise InputError(f"override '{item[:80]}' is not of the form key=value")
    if not raw:
        return key, ""
    try:
        return key, yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML value: {getattr(exc, 'problem', None) or exc}", field=key) from None
    except RecursionError:
        raise InputError("value nested too deeply", field=key) from None
    except ValueError as exc:  # an integer longer than Python's 4,300-digit limit
        raise InputError(f"unreadable value ({str(exc).split(';')[0]})", field=key) from None


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `a.b=value` overrides (value parsed as YAML) to a nested dict, returning it."""
    for item in overrides:
        key, value = override_value(item)
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"override '{item}': '{part}' is not a section")
        node[parts[-1]] = value
    return data
