"""The benchmark registry: name -> lazy "module:attr" entry, built-ins registered like plugins."""

from __future__ import annotations

from followkit.core.registry import Registry
from followkit.evaluate.base import Benchmark

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

BENCHMARKS: Registry[type[Benchmark]] = Registry(
    "benchmark",
    _BUILTIN,
    base=Benchmark,
    subclass=True,
    group="followkit.benchmarks",
    env="FOLLOWKIT_BENCHMARKS",
)
"""Built-ins, then plugins: entry points of group followkit.benchmarks and the comma-separated
`name=module:attr` items of FOLLOWKIT_BENCHMARKS, read on the first lookup."""


def names() -> list[str]:
    """The known benchmark names."""
    return BENCHMARKS.names()


def parse_benchmark_spec(spec: str) -> tuple[str, str | None]:
    """'NAME' or 'NAME:PATH' -> (name, path or None)."""
    name, sep, path = spec.partition(":")
    return name.strip(), (path if sep and path else None)


def get_benchmark(name: str) -> Benchmark:
    """A fresh instance of the named benchmark; unknown names fail listing the known ones."""
    return BENCHMARKS.get(name)()
