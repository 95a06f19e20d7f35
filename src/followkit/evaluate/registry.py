"""The benchmark registry: name -> lazy "module:attr" entry, built-ins registered like plugins."""

from __future__ import annotations

import difflib
import importlib
import os
from types import MappingProxyType

from followkit.core.errors import InputError
from followkit.evaluate.base import Benchmark

# Built-ins; plugins add "name=module:attr" pairs in FOLLOWKIT_BENCHMARKS (comma separated).
_BUILTIN = {
    "ifeval": "followkit.evaluate.ifeval:IFEvalBenchmark",
    "ifbench": "followkit.evaluate.ifbench:IFBenchBenchmark",
    "trace": "followkit.evaluate.trace:TraceBenchmark",
    "followkit-bench": "followkit.evaluate.followkit_bench:FollowkitBench",
    "kcif": "followkit.evaluate.kcif:KCIFBenchmark",
    "cfbench": "followkit.evaluate.cfbench:CFBenchBenchmark",
    "complexbench": "followkit.evaluate.complexbench:ComplexBenchBenchmark",
    "complexbench-en": "followkit.evaluate.complexbench:ComplexBenchEnBenchmark",
    "infobench": "followkit.evaluate.infobench:InFoBenchBenchmark",
    "followbench": "followkit.evaluate.followbench:FollowBenchBenchmark",
    "multi-if": "followkit.evaluate.multi_if:MultiIFBenchmark",
    "ifbench-multiturn": "followkit.evaluate.ifbench:IFBenchMultiTurnBenchmark",
}


def _table() -> MappingProxyType[str, str]:
    table = dict(_BUILTIN)
    for entry in filter(None, (e.strip() for e in os.environ.get("FOLLOWKIT_BENCHMARKS", "").split(","))):
        name, sep, target = entry.partition("=")
        if not sep or ":" not in target:
            raise InputError(f"FOLLOWKIT_BENCHMARKS entry '{entry}' is not name=module:attr")
        table[name.strip()] = target.strip()
    return MappingProxyType(table)


BENCHMARKS = _table()


def names() -> list[str]:
    """The known benchmark names."""
    return list(BENCHMARKS)


def parse_benchmark_spec(spec: str) -> tuple[str, str | None]:
    """'NAME' or 'NAME:PATH' -> (name, path or None)."""
    name, sep, path = spec.partition(":")
    return name.strip(), (path if sep and path else None)


def get_benchmark(name: str) -> Benchmark:
    """A fresh instance of the named benchmark; unknown names fail listing the known ones."""
    if name not in BENCHMARKS:
        close = difflib.get_close_matches(name, names(), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InputError(f"unknown benchmark '{name}'{hint}; known: {', '.join(names())}")
    modname, _, attr = BENCHMARKS[name].partition(":")
    try:
        cls = getattr(importlib.import_module(modname), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"benchmark '{name}' is not available ({BENCHMARKS[name]}: {exc})") from None
    if not (isinstance(cls, type) and issubclass(cls, Benchmark)):
        raise InputError(f"benchmark '{name}': {BENCHMARKS[name]} is not a Benchmark subclass")
    return cls()
