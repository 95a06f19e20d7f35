"""The constraint registry: id -> ConstraintType, loaded lazily from the family modules, then frozen."""

from __future__ import annotations

import difflib
import sys
from types import MappingProxyType

from followkit.constraints.base import ConstraintType
from followkit.constraints.taxonomy import DIMENSIONS
from followkit.core.errors import ConstraintError
from followkit.core.registry import Registry

FAMILIES: Registry[list[ConstraintType]] = Registry(
    "constraint family",
    {
        "ifeval": "followkit.constraints.ifeval:CONSTRAINTS",
        "ifbench": "followkit.constraints.ifbench:CONSTRAINTS",
        "extra": "followkit.constraints.extra:CONSTRAINTS",
    },
    base=list,
    group="followkit.constraints",
    env="FOLLOWKIT_CONSTRAINTS",
    error=ConstraintError,
)
"""Family -> its list of ConstraintTypes ("module:CONSTRAINTS"). Built-in families and plugins
register the same way: one line here, an entry point of group followkit.constraints, or a
`name=module:CONSTRAINTS` item of FOLLOWKIT_CONSTRAINTS (comma separated). A family module's
optional CORRECTED lists the checkers whose `--semantics corrected` reading differs."""

SEMANTICS = ("reference", "corrected")
"""How checkers read a benchmark: 'reference' gives the benchmark authors' verdicts (the default,
so published numbers reproduce); 'corrected' uses followkit's reading where the two differ. Every
difference is a row of `followkit.evaluate.deviations.DEVIATIONS`."""

_REGISTRY: MappingProxyType[str, ConstraintType] | None = None
_CORRECTED: MappingProxyType[str, ConstraintType] | None = None


def _load() -> MappingProxyType[str, ConstraintType]:
    global _REGISTRY, _CORRECTED
    if _REGISTRY is not None:
        return _REGISTRY
    table: dict[str, ConstraintType] = {}
    corrected: dict[str, ConstraintType] = {}
    for family in FAMILIES:
        cts, modname = FAMILIES.get(family), FAMILIES.spec(family).partition(":")[0]
        for ct in getattr(sys.modules[modname], "CORRECTED", ()):
            if not isinstance(ct, ConstraintType):
                raise TypeError(f"{modname}: {ct!r} is not a ConstraintType")
            corrected[ct.id] = ct
        for ct in cts:
            if not isinstance(ct, ConstraintType):
                raise TypeError(f"{modname}: {ct!r} is not a ConstraintType")
            if ct.id in table:
                raise ValueError(f"constraint id {ct.id} registered twice ({modname})")
            if ct.dimension not in DIMENSIONS:
                raise ValueError(f"{ct.id}: unknown TRACE dimension {ct.dimension!r}")
            table[ct.id] = ct
    unknown = set(corrected) - set(table)
    if unknown:
        raise ValueError(f"corrected checkers for unregistered ids: {sorted(unknown)}")
    _CORRECTED = MappingProxyType(corrected)
    _REGISTRY = MappingProxyType(table)
    return _REGISTRY


def registry() -> MappingProxyType[str, ConstraintType]:
    """The frozen id -> ConstraintType mapping."""
    return _load()


def corrected_ids() -> list[str]:
    """Ids whose checker differs under `--semantics corrected`, sorted."""
    _load()
    assert _CORRECTED is not None
    return sorted(_CORRECTED)


def is_rule(cid: str) -> bool:
    """True if a registered rule decides this constraint id (else a judge must)."""
    return cid in registry()


def get(cid: str, semantics: str = "reference") -> ConstraintType:
    """The ConstraintType for an id under `semantics`; unknown ids fail with the closest known ids suggested."""
    reg = _load()
    if semantics not in SEMANTICS:
        raise ConstraintError(f"unknown semantics '{semantics}' (expected one of {', '.join(SEMANTICS)})")
    if semantics == "corrected" and _CORRECTED is not None and cid in _CORRECTED:
        return _CORRECTED[cid]
    try:
        return reg[cid]
    except KeyError:
        close = difflib.get_close_matches(cid, list(reg), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `followkit constraints list`"
        raise ConstraintError(f"unknown instruction id '{cid}'{hint}") from None


def ids(prefix: str = "") -> list[str]:
    """All registered ids (optionally those starting with prefix), sorted."""
    return sorted(i for i in _load() if i.startswith(prefix))
