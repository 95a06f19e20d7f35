"""Command-line options generated from config models: each setting's default and help written once.

A command's settings are one pydantic model. `config_command` turns its fields into typer options
(`max_tokens` -> `--max-tokens`, help from the field's description, the default from the model) and
adds `--config FILE` and `--set key=value`; `load_settings` layers them: model defaults < the YAML
file < flags given on the command line < `--set` overrides. A field can rename or hide its flag with
`cli(...)` in `json_schema_extra`; config models never import typer. Config files are plain YAML read
strictly (`load_yaml`: duplicate keys, bad bytes and deep nesting are errors), and `a.b=1` overrides
are applied by `apply_overrides`.
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from followkit.core.errors import InputError, first_error

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


_PANEL = "Config file and overrides"

Cache = Annotated[bool, Field(description="Read and write the request cache")]
"""The `cache` setting of every command that calls models (--cache / --no-cache)."""
RefreshCache = Annotated[bool, Field(description="Ignore cached answers, store new ones")]
"""The `refresh_cache` setting of every command that calls models."""
Reasoning = Annotated[
    typing.Literal["strip", "keep"],
    Field(
        description="strip: read the answer after a reasoning trace (an unclosed trace leaves no answer); "
        "keep: read the text as it came, trace included"
    ),
]
"""The `reasoning` setting of every command that reads answers (followkit.core.reasoning)."""


def _markers(value: str) -> str:
    from followkit.core.reasoning import parse_markers

    return ",".join(parse_markers(value))


ReasoningMarkers = Annotated[
    str,
    AfterValidator(_markers),
    Field(description="The reasoning trace's open and close markers, OPEN,CLOSE"),
]
"""The `reasoning_markers` setting (`--reasoning-markers '<think>,</think>'`); read with parse_markers."""
MODEL_SPEC = "embedded | hf:PATH | hf:ORG/NAME[@REVISION] | openai:NAME (with --base-url) | vllm:PATH"
"""How a model is named on the command line (followkit.backends.parse_spec)."""
ROLE_SPEC = MODEL_SPEC + " | auto:CAR_JSON (the best teacher of `followkit car`)"
"""A synthesis role's model: any spec, or CAR's best teacher."""


def cli(*flags: str, argument: bool = False, hidden: bool = False, metavar: str | None = None) -> dict:
    """A field's command-line form, for `Field(json_schema_extra=cli(...))`: its flags, or hidden."""
    spec: dict[str, Any] = {"flags": list(flags), "argument": argument, "hidden": hidden}
    if metavar:
        spec["metavar"] = metavar
    return {"cli": spec}


def _spec(field: Any) -> dict[str, Any]:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return dict(extra.get("cli") or {})


def _cli_type(annotation: Any) -> Any | None:
    """The type typer parses a field's flag as, or None when the field has no flag (dicts, unions)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _cli_type(args[0]) if len(args) == 1 else None
    if origin is list:
        (inner,) = typing.get_args(annotation) or (str,)
        inner = _cli_type(inner)
        return list[inner] if inner in (str, int, float) else None
    if origin is typing.Literal:
        return str
    if annotation in (str, int, float, bool):
        return annotation
    if annotation is Path or (isinstance(annotation, type) and issubclass(annotation, enum.Enum)):
        return str
    return None


def _choices(annotation: Any) -> list[str]:
    """The allowed values of a Literal (or Optional Literal) field, for its help."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [c for a in typing.get_args(annotation) for c in _choices(a)]
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return []


def _default_text(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None or value == [] or value == "":
        return ""
    if isinstance(value, bool):
        return "default: on" if value else ""
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    return f"default: {value}"


def _help(field: Any) -> str:
    text = field.description or ""
    text = text[:-1] if text.endswith(".") and not text.endswith("..") else text
    choices = _choices(field.annotation)
    if choices and not all(c in text for c in choices):
        text = f"{text}: {' | '.join(choices)}" if text else " | ".join(choices)
    default = _default_text(field)
    return f"{text} ({default})." if default else (f"{text}." if text else "")


def flag_names(model: type[BaseModel], name: str) -> list[str]:
    """The command-line flags of a config field (`--max-tokens` for max_tokens unless renamed)."""
    return _spec(model.model_fields[name]).get("flags") or ["--" + name.replace("_", "-")]


def option_parameters(model: type[BaseModel]) -> list[inspect.Parameter]:
    """One typer parameter per field with a command-line form; every default is None (= not given)."""
    import typer

    panels = {f: panel for panel, names in getattr(model, "CLI_PANELS", {}).items() for f in names}
    if set(panels) - set(model.model_fields):
        raise TypeError(
            f"{model.__name__}.CLI_PANELS names no field {sorted(set(panels) - set(model.model_fields))}"
        )
    params = []
    for name, field in model.model_fields.items():
        spec, kind = _spec(field), _cli_type(field.annotation)
        if spec.get("hidden") or kind is None:
            continue
        help_text = _help(field)
        extra = {"metavar": spec["metavar"]} if "metavar" in spec else {}
        if name in panels:  # a long model groups its flags (CLI_PANELS: panel -> field names)
            extra["rich_help_panel"] = panels[name]
        if spec.get("argument"):
            default = typer.Argument(None, help=help_text, show_default=False, **extra)
        else:
            names = flag_names(model, name)
            if kind is bool and field.get_default() is True and "/" not in names[0]:
                names = [f"{names[0]}/--no-{names[0][2:]}"]  # on by default: the flag that turns it off
            default = typer.Option(None, *names, help=help_text, show_default=False, **extra)
        params.append(parameter(name, kind | None, default))
    return params


def parameter(name: str, annotation: Any, info: Any) -> inspect.Parameter:
    """A parameter of a generated command: its Python type and its typer.Option or typer.Argument."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, list | tuple) and not value)


def load_settings(
    model: type[M],
    config: str | Path | None = None,
    overrides: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> M:
    """The settings: model defaults < YAML file < command-line flags < key=value overrides, validated."""
    data: dict[str, Any] = load_yaml(config) if config else {}
    from_file = set(data)
    flags = {k: list(v) if isinstance(v, tuple) else v for k, v in (flags or {}).items() if _given(v)}
    data.update(flags)
    rest = list(overrides or [])
    data.update(_list_overrides(model, rest, flags))  # removes the ones it takes
    apply_overrides(data, rest)
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        raise _settings_error(exc, model, config, from_file, flags, overrides or []) from None
    if getattr(settings, "refresh_cache", False) and not getattr(settings, "cache", True):
        raise InputError("--refresh-cache and --no-cache cannot be combined")  # every command's cache pair
    return settings


def _list_overrides(model: type[BaseModel], overrides: list[str], flags: dict[str, Any]) -> dict[str, list]:
    """Repeated `key=value` overrides of a list setting add up (`mix=a mix=b`); `key=` alone empties it.

    They add to the same setting's flags and replace the config file's list.
    """
    out: dict[str, list] = {}
    for item in list(overrides):
        key, sep, raw = item.partition("=")
        field = model.model_fields.get(key)
        if not sep or field is None or typing.get_origin(_cli_type(field.annotation)) is not list:
            continue
        overrides.remove(item)
        values = out.setdefault(key, list(flags.get(key, [])))
        value = override_value(item)[1] if raw.strip() else []
        values.extend(value if isinstance(value, list) else [value])
    return out


def _settings_error(
    exc: ValidationError,
    model: type[BaseModel],
    config: str | Path | None,
    from_file: set[str],
    flags: dict[str, Any],
    overrides: list[str],
) -> InputError:
    """One line naming where the bad value came from: the file's field, the flag, or the override."""
    field, _ = first_error(exc)
    top = (field or "").split(".")[0].split("[")[0]
    if config and top in from_file and top not in flags:
        return InputError.from_validation(exc, path=str(config), line=key_lines(config).get(top))
    err = InputError.from_validation(exc)
    msg = str(err).split(": ", 1)[1] if err.field else str(err)
    if not top:  # a check across fields: its message names them
        return InputError(msg)
    if top in {o.partition("=")[0].split(".")[0] for o in overrides} or top not in model.model_fields:
        return InputError(msg, field=field)
    spec = _spec(model.model_fields[top])
    if spec.get("argument"):
        where = spec.get("metavar") or top.upper()
        if msg == "missing":
            return InputError(f"missing argument {where}")
    else:
        where = "/".join(flag_names(model, top))
    if msg == "missing":
        return InputError(f"missing {where} (give it on the command line or in --config)")
    return InputError(f"{where}: {field + ': ' if field != top else ''}{msg}")


def config_command(
    group: Any,
    name: str,
    model: type[BaseModel],
    *,
    params: list[inspect.Parameter] | None = None,
    overrides_as_arguments: bool = False,
    **command_kw: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(settings, **params)` as a typer command whose options are the model's fields.

    `params` are extra typer parameters that are not settings (an output folder, --resume); with
    `overrides_as_arguments`, trailing key=value arguments override settings as `--set` does.
    """
    import typer

    extra = list(params or [])
    fixed = [
        parameter(
            "config",
            str | None,
            typer.Option(
                None,
                "--config",
                help="YAML file of these settings (flags given here win).",
                rich_help_panel=_PANEL,
            ),
        ),
        parameter(
            "set_",
            list[str] | None,
            typer.Option(
                None,
                "--set",
                help="Override a setting: key=value, value as YAML (repeatable).",
                rich_help_panel=_PANEL,
            ),
        ),
    ]
    if overrides_as_arguments:
        arg = typer.Argument(None, help="key=value overrides, as --set.", show_default=False)
        fixed.append(parameter("overrides", list[str] | None, arg))
    fields = option_parameters(model)
    clash = {p.name for p in extra} & ({p.name for p in fields} | {p.name for p in fixed})
    if clash:
        raise TypeError(f"{name}: parameters {sorted(clash)} are also settings")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            config = kwargs.pop("config", None)
            sets = list(kwargs.pop("set_", None) or []) + list(kwargs.pop("overrides", None) or [])
            own = {p.name: kwargs.pop(p.name) for p in extra}
            return fn(load_settings(model, config, sets, kwargs), **own)

        # Arguments first (click takes positionals in order), then options in model order.
        ordered = sorted(fields + extra, key=lambda p: not _is_argument(p)) + fixed
        command.__signature__ = inspect.Signature(ordered)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in ordered}
        del command.__wrapped__  # typer must read the generated signature, not fn's
        command.settings_model = model  # type: ignore[attr-defined]  # for commands.check_args
        group.command(name, **command_kw)(command)
        return fn

    return decorate


def _is_argument(p: inspect.Parameter) -> bool:
    import typer.models

    return isinstance(p.default, typer.models.ArgumentInfo)
