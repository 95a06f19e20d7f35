"""The project's error types: a user error becomes one line on stderr and exit code 2."""

from __future__ import annotations


class FollowkitError(Exception):
    """An error caused by the user's input or environment, reported as one line, exit code 2."""

    exit_code = 2


_EXPECTED = {
    "string_type": "str",
    "int_type": "int",
    "float_type": "float",
    "bool_type": "bool",
    "list_type": "list",
    "dict_type": "an object",
    "model_type": "an object",
}
"""pydantic error type -> the type a reader names in "expected X, got Y"."""


class InputError(FollowkitError):
    """Bad input data: names the file, the line and the field."""

    def __init__(
        self, message: str, path: str | None = None, line: int | None = None, field: str | None = None
    ):
        self.path, self.line, self.field = path, line, field
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}{what}{message}")

    @classmethod
    def from_validation(
        cls, exc: Exception, path: str | None = None, line: int | None = None, prefix: str = ""
    ) -> InputError:
        """The first error of a pydantic ValidationError as one line naming file, line and field.

        `prefix` is put before the field path (e.g. "constraints[2].kwargs").
        """
        field, msg = first_error(exc)
        err = exc.errors()[0]  # type: ignore[attr-defined]
        kind = err.get("type")
        if kind == "missing":
            msg = "missing"  # the word every reader uses for an absent field
        elif kind in _EXPECTED:  # the wording of io.require: "expected str, got int"
            msg = f"expected {_EXPECTED[kind]}, got {type(err.get('input')).__name__}"
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        if prefix and field:
            field = prefix + (field if field.startswith("[") else f".{field}")
        return cls(msg, path=path, line=line, field=field or prefix or None)


def first_error(exc: Exception) -> tuple[str | None, str]:
    """(field path, message) of a pydantic ValidationError's first error: the one-line form every reader uses.

    The path reads as the hand-written readers write it: names dotted, indices in brackets
    (`constraints[0].id`, `kwargs[0]`).
    """
    err = exc.errors()[0]  # type: ignore[attr-defined]
    if err.get("type") == FIELD_ERROR:  # a model-level check that names its field (field_error)
        return err["ctx"]["field"], str(err["ctx"]["why"])
    return field_path(err.get("loc", ())), str(err["msg"])


FIELD_ERROR = "field_error"
"""The pydantic error type of `field_error`: a whole-record check that names the field at fault."""


def field_error(field: str, why: str) -> Exception:
    """The error a model validator raises to blame one field: read back as "field 'FIELD': WHY".

    A `model_validator` error has no location of its own; this one carries the field path, so a
    record that checks several fields together still gets a file:line:field message.
    """
    from pydantic_core import PydanticCustomError

    return PydanticCustomError(FIELD_ERROR, "{why}", {"field": field, "why": why})


def field_path(loc: tuple | list) -> str | None:
    """A pydantic error location as a field path: ("constraints", 0, "id") -> "constraints[0].id"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


class ConstraintError(FollowkitError):
    """An unknown constraint id, or kwargs that do not fit its schema."""


class BackendError(FollowkitError):
    """A model backend that cannot be built or reached."""
