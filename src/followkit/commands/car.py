"""`followkit car`: rank teachers for a student by CAR (compatibility-adjusted reward)."""

from __future__ import annotations

from typing import Any

import typer

from followkit.core.settings import config_command
from followkit.select.car import CarConfig


def _fmt(x: Any, nd: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "nan" if x != x else f"{x:.{nd}f}"
    return str(x)


def print_table(doc: dict[str, Any], console: Any = None) -> None:
    """The ranked teacher table of a car.json document (rich) and, if present, the validation correlations."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(
        title=f"CAR teacher ranking (beta={doc['beta']:g}, reward={doc['reward']['spec']})",
        caption="higher is better except loss (mean token NLL under the student); len: mean response tokens; "
        "ranks: by reward, loss, IFD, len (ties share the mean rank)",
    )
    for col, just in (
        ("rank", "right"),
        ("teacher", "left"),
        ("CAR", "right"),
        ("reward", "right"),
        ("loss", "right"),
        ("IFD", "right"),
        ("len", "right"),
        ("n", "right"),
        ("ranks", "left"),
    ):
        table.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    for t in sorted(doc["teachers"], key=lambda t: t["ranks"]["car"]):
        others = " ".join(
            _fmt(t["ranks"][m], 1).removesuffix(".0") for m in ("reward", "loss", "ifd", "length")
        )
        table.add_row(
            str(t["ranks"]["car"]),
            t["name"],
            _fmt(t["car"], 4),
            _fmt(t["reward"]),
            _fmt(t["loss"]),
            _fmt(t["ifd"]),
            _fmt(t["length_tokens"], 1),
            f"{t['n_scored']}/{t['n']}" if t["n_scored"] != t["n"] else str(t["n"]),
            others,
        )
    console.print(table)
    console.print(f"reward positivity: {doc['reward']['positivity']}")
    validation = doc.get("validation")
    if validation:
        v = Table(title="Spearman rho with downstream scores (higher = ranks teachers as observed)")
        v.add_column("metric")
        v.add_column("rho", justify="right")
        for m, rho in validation["spearman"].items():
            v.add_row(m, _fmt(rho))
        for b, rho in validation["car_beta_sweep"].items():
            v.add_row(f"car (beta={b})", _fmt(rho))
        console.print(v)
        if "note" in validation:
            console.print(validation["note"])


def register(app: typer.Typer) -> None:
    """Add the `car` command."""

    @config_command(app, "car", CarConfig)
    def car(cfg: CarConfig) -> None:
        """Rank teachers by CAR with reward-only, loss-only, IFD and length baselines; write DIR/car.json."""
        from followkit.select.car import run_car

        doc = run_car(cfg)
        print_table(doc)
        typer.echo(f"best teacher: {doc['best']}; wrote {doc['outputs']['car']}")
