"""A lazy registry: name -> "module:attr", imported on first use; plugins come in through the same path.

Built-ins and plugins register the same way (STYLE 8): a plugin is an entry point of the registry's
group (``[project.entry-points."followkit.benchmarks"] mine = "pkg.mod:Cls"``) or a ``name=module:attr``
item of its environment variable (comma separated). Plugins are read once, on the first lookup;
after `freeze()` (or that first lookup) nothing more registers. An unknown name fails in one line with
a "did you mean" and the known names (STYLE 4); a target that is not of the registry's base type
fails naming its "module:attr".

    >>> r = Registry("codec", {"json": "json:dumps"})
    >>> r.get("json")({"a": 1})
    '{"a": 1}'
    >>> r.get("jsn")
    Traceback (most recent call last):
    followkit.core.errors.InputError: unknown codec 'jsn' (did you mean json?); known: json
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from followkit.core.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> lazily imported target of type T ("module:attr" until first use)."""

    def __init__(
        self,
        kind: str,
        builtins: Mapping[str, str] | None = None,
        *,
        base: type | None = None,
        subclass: bool = False,
        group: str | None = None,
        env: str | None = None,
        error: type[Exception] = InputError,
    ) -> None:
        """`kind` names an entry in messages ("benchmark"); `base` is the type every target must be
        (an instance of it, or with `subclass` a subclass of it); `group` and `env` are where plugins
        come from; `error` is the exception raised for unknown or broken names."""
        self.kind = kind
        self.base = base
        self.subclass = subclass
        self.group = group
        self.env = env
        self.error = error
        self._specs: dict[str, str] = {}
        self._loaded: dict[str, T] = {}
        self._plugins_read = False
        self._frozen = False
        self._builtins = dict(builtins or {})
        for name, spec in self._builtins.items():
            self.register(name, spec)

    def fresh(self) -> Registry[T]:
        """An unfrozen copy with the same built-ins and plugin sources (plugins read anew on first use)."""
        return Registry(
            self.kind,
            self._builtins,
            base=self.base,
            subclass=self.subclass,
            group=self.group,
            env=self.env,
            error=self.error,
        )

    # --- registering ----------------------------------------------------------------------------

    def register(self, name: str, spec: str) -> None:
        """Add `name` -> "module:attr"; refused after freezing, or when the spec is not module:attr."""
        if self._frozen:
            raise self.error(f"{self.kind} registry is frozen: cannot register '{name}'")
        module, sep, attr = spec.partition(":")
        if not name or not sep or not module.strip() or not attr.strip():
            raise self.error(f"{self.kind} '{name}': '{spec}' is not module:attr")
        self._specs[name] = f"{module.strip()}:{attr.strip()}"
        self._loaded.pop(name, None)

    def freeze(self) -> None:
        """Read the plugins, then refuse any further registration."""
        self._read_plugins()
        self._frozen = True

    @property
    def frozen(self) -> bool:
        """True once nothing more may register."""
        return self._frozen

    def _read_plugins(self) -> None:
        if self._plugins_read:
            return
        self._plugins_read = True
        if self.group:
            from importlib.metadata import entry_points

            for ep in entry_points(group=self.group):
                self.register(ep.name, ep.value)
        if self.env:
            for item in filter(None, (e.strip() for e in os.environ.get(self.env, "").split(","))):
                name, sep, spec = item.partition("=")
                if not sep or ":" not in spec:
                    raise self.error(f"{self.env} entry '{item}' is not name=module:attr")
                self.register(name.strip(), spec.strip())

    # --- looking up -----------------------------------------------------------------------------

    def table(self) -> MappingProxyType[str, str]:
        """Every name -> "module:attr", plugins included (read-only); freezes the registry."""
        self.freeze()
        return MappingProxyType(self._specs)

    def names(self) -> list[str]:
        """The known names, built-ins first, in registration order."""
        return list(self.table())

    def __contains__(self, name: object) -> bool:
        return name in self.table()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.table())

    def spec(self, name: str) -> str:
        """The "module:attr" of `name`; an unknown name fails with a suggestion and the known names."""
        table = self.table()
        if name not in table:
            close = self.closest(name)
            hint = f" (did you mean {close}?)" if close else ""
            raise self.error(f"unknown {self.kind} '{name}'{hint}; known: {', '.join(table)}")
        return table[name]

    def closest(self, name: str) -> str | None:
        """The known name closest to `name`, if one is close enough to suggest."""
        close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
        return close[0] if close else None

    def get(self, name: str) -> T:
        """The target of `name`, imported on first use and checked against the base type."""
        try:
            return self.load(name)
        except ImportError as exc:
            raise self.error(f"{self.kind} '{name}' is not available ({self.spec(name)}: {exc})") from None

    def load(self, name: str) -> T:
        """As `get`, but a target that cannot be imported raises the ImportError itself (for callers
        with their own advice, such as "install the [ml] extra")."""
        if name in self._loaded:
            return self._loaded[name]
        spec = self.spec(name)
        target = resolve(spec)
        if self.base is not None and not self._fits(target):
            what = (
                f"a {self.base.__name__} subclass"
                if self.subclass
                else f"an instance of {self.base.__name__}"
            )
            raise self.error(f"{self.kind} '{name}': {spec} is not {what}")
        self._loaded[name] = target
        return target

    def _fits(self, target: Any) -> bool:
        assert self.base is not None
        if self.subclass:
            return isinstance(target, type) and issubclass(target, self.base)
        return isinstance(target, self.base)


def resolve(ref: str) -> Any:
    """Import "module:attr"; attr may be dotted and steps into a mapping by key ("mod:TABLE.name").

    The one way followkit turns a "module:attr" string into an object; a module, attribute or key
    that is not there raises ImportError.
    """
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ImportError(f"'{ref}' is not module:attr")
    target: Any = importlib.import_module(module)
    for part in attr.split("."):
        try:
            target = target[part] if isinstance(target, Mapping) else getattr(target, part)
        except (AttributeError, KeyError):
            raise ImportError(f"{module} has no '{attr}'") from None
    return target
