"""The ConstraintType interface every constraint id implements (DESIGN section 3)."""

from __future__ import annotations

import functools
import random
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from followkit.core.errors import ConstraintError, first_error


class NoKwargs(BaseModel):
    """Kwargs schema of a constraint that takes none."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Kwargs(BaseModel):
    """Base of kwargs schemas: frozen, unknown keys rejected, types validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")


INTEGRAL_FLOATS_ACCEPTED = True
"""An integer kwarg given as a float with no fractional part (13.0) is read as that integer.

IFBench's own test file stores whole numbers as floats (`"N": 13.0`); a fractional value
(13.5) is still rejected with a one-line error."""


def _is_int_field(annotation: Any) -> bool:
    """True for `int` and `int | None` annotations (StrictInt and constrained ints included)."""
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_int_field(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_int_field(args[0])
    return False


def _integral_floats(model: type[BaseModel], raw: dict[str, Any], cid: str) -> dict[str, Any]:
    """`raw` with integral floats of integer fields turned into ints (INTEGRAL_FLOATS_ACCEPTED)."""
    fields = getattr(model, "model_fields", {})
    out = dict(raw)
    for name, value in raw.items():
        info = fields.get(name)
        if info is None or not isinstance(value, float) or not _is_int_field(info.annotation):
            continue
        if not value.is_integer():
            raise ConstraintError(f"{cid}: kwargs field '{name}': expected a whole number, got {value!r}")
        out[name] = int(value)
    return out


def _verified_repair(fn: Callable[..., str | None]) -> Callable[..., str | None]:
    """A repair that returns only text passing the id's strict check, and None instead of raising.

    Every id's `repair` is wrapped so: the rule teacher and users can trust a non-None result
    without re-checking it, and a repair's blind spot costs one fix, never a stage.
    """

    @functools.wraps(fn)
    def repair(self: ConstraintType, response: str, kw: Any, rng: random.Random) -> str | None:
        try:
            out = fn(self, response, kw, rng)
            return out if out is not None and out.strip() and self.check(out, kw) else None
        except Exception:  # noqa: BLE001
            return None

    return repair


class ConstraintType(ABC):
    """One constraint id: schema, renderer, sampler, strict checker and IOPO perturbation.

    Checkers are pure and deterministic; randomness lives only in `sample_kwargs` and `perturb`,
    through the `random.Random` passed in. `check` never raises on any response text.
    """

    id: ClassVar[str]
    dimension: ClassVar[str]  # a key of taxonomy.DIMENSIONS
    Kwargs: ClassVar[type[BaseModel]] = NoKwargs
    languages: ClassVar[tuple[str, ...]] = ("en", "zh")

    def parse_kwargs(self, raw: dict[str, Any] | None) -> BaseModel:
        """Validate raw kwargs into the frozen schema; a one-line ConstraintError otherwise."""
        raw = {k: v for k, v in (raw or {}).items() if v is not None}
        raw = _integral_floats(self.Kwargs, raw, self.id)
        try:
            return self.Kwargs(**raw)
        except ValidationError as exc:
            field, msg = first_error(exc)
            raise ConstraintError(f"{self.id}: kwargs field '{field or 'kwargs'}': {msg}") from None

    @abstractmethod
    def check(self, response: str, kw: Any) -> bool:
        """True if the response follows the constraint (strict: the text as given)."""

    @abstractmethod
    def render(self, kw: Any, lang: str = "en") -> str:
        """The instruction sentence for these kwargs, in English ('en') or Chinese ('zh')."""

    @abstractmethod
    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        """Draw kwargs for a new instruction (synthesis only)."""

    def perturb(self, kw: Any, rng: random.Random) -> dict[str, Any] | None:
        """Kwargs for which a response satisfying `kw` fails; None where no such edit exists."""
        return None

    # When the rule teacher applies this id's fix relative to others': 0 additions, 1 layout,
    # 2 case and punctuation, 3 head and postscript, 4 the end phrase, 5 wrappers (quotes, JSON),
    # so that a later fix does not undo an earlier one.
    repair_stage: ClassVar[int] = 1
    repair_how: ClassVar[str] = ""  # one line for the docs' repair table; empty: not repairable

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        """A minimal edit of the response that follows the constraint; None where no such edit exists."""
        return None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "repair" in cls.__dict__:
            cls.repair = _verified_repair(cls.__dict__["repair"])  # type: ignore[method-assign]

    @property
    def repairable(self) -> bool:
        """True if this id declares a rule repair (for some kwargs at least)."""
        return type(self).repair is not ConstraintType.repair

    def __repr__(self) -> str:
        return f"<constraint {self.id}>"
