"""`followkit constraints list|show|render`: browse the constraint library."""

from __future__ import annotations

import typer

DOC_TABLES = (
    (
        "deviations",
        "followkit.evaluate.deviations:render_markdown",
        "Print the table of deviations from the reference implementations (docs/deviations.md).",
    ),
    (
        "reward-hacks",
        "followkit.rewards.hacks:render_markdown",
        "Print the reward-hack matrix: degenerate answers that earn reward, per id and mode, before and after the guards (docs/reward_hacks.md).",
    ),
    (
        "repairs",
        "followkit.constraints.repair:render_repairs_markdown",
        "Print which ids the rule teacher repairs, and how (docs/repairs.md).",
    ),
)
"""(command, "module:function" rendering it, help): the docs tables rendered from the code."""


def _doc_command(ref: str, doc_file: str):
    """A command that prints a docs table, or writes it with --write."""

    def command(
        write: str | None = typer.Option(
            None, "--write", help=f"Write the Markdown to this file ({doc_file})."
        ),
    ) -> None:
        from pathlib import Path

        from followkit.core.registry import resolve

        text = resolve(ref)()
        if write:
            Path(write).write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=False)

    return command


def register(app: typer.Typer) -> None:
    """Add the `constraints` command group."""
    group = typer.Typer(help="Browse the constraint library: ids, schemas, renderings.", no_args_is_help=True)
    app.add_typer(group, name="constraints")

    for name, ref, doc in DOC_TABLES:
        group.command(name, help=doc)(_doc_command(ref, f"docs/{name.replace('-', '_')}.md"))

    @group.command("list")
    def list_(
        family: str | None = typer.Option(
            None,
            "--family",
            help="Only ids of a family module (ifeval, ifbench, extra) or an id group (e.g. keywords).",
        ),
    ) -> None:
        """List constraint ids with their TRACE dimension and kwargs."""
        from rich.console import Console
        from rich.table import Table

        from followkit.constraints import registry
        from followkit.core.errors import FollowkitError

        rows = [ct for _, ct in sorted(registry.registry().items()) if _in_family(ct, family)]
        if not rows:
            raise FollowkitError(f"no constraint ids in family {family!r}")
        table = Table(title=f"{len(rows)} constraint ids")
        table.add_column("id", no_wrap=True)
        for col in ("family", "dimension", "kwargs"):
            table.add_column(col)
        for ct in rows:
            table.add_row(ct.id, _family(ct), ct.dimension, ", ".join(ct.Kwargs.model_fields) or "-")
        Console().print(table)

    @group.command("show")
    def show(
        cid: str = typer.Argument(..., metavar="ID", help="A constraint id, e.g. keywords:existence."),
    ) -> None:
        """Show an id: its dimension, kwargs schema and an English and a Chinese rendering."""
        import random

        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        from followkit.constraints import registry
        from followkit.constraints.taxonomy import DIMENSIONS

        ct = registry.get(cid)
        dim = DIMENSIONS[ct.dimension]
        console = Console()
        console.print(f"[bold]{ct.id}[/bold]  ({_family(ct)})")
        console.print(f"dimension: {dim.key} ({dim.name}, {dim.label_zh}; {dim.type})")
        doc = (type(ct).__doc__ or "").strip().splitlines()
        if doc:
            console.print(doc[0], markup=False)
        schema = Table(title="kwargs")
        for col in ("field", "type", "required"):
            schema.add_column(col)
        for name, f in ct.Kwargs.model_fields.items():
            schema.add_row(name, escape(_type_name(f.annotation)), "yes" if f.is_required() else "no")
        if ct.Kwargs.model_fields:
            console.print(schema)
        else:
            console.print("kwargs: none")
        raw = ct.sample_kwargs(random.Random(0))
        kw = ct.parse_kwargs(raw)
        console.print(f"example kwargs: {raw}", markup=False)
        console.print(f"en: {ct.render(kw, 'en')}", markup=False)
        console.print(f"zh: {ct.render(kw, 'zh')}", markup=False)

    @group.command("render")
    def render(
        cid: str = typer.Argument(..., metavar="ID"),
        kwargs: str = typer.Option("{}", "--kwargs", help="The kwargs as a JSON object."),
        lang: str = typer.Option("en", "--lang", help="en or zh."),
    ) -> None:
        """Print the instruction sentence for ID with these kwargs."""
        import json

        from followkit.constraints import registry
        from followkit.core.errors import InputError

        if lang not in ("en", "zh"):
            raise InputError(f"expected 'en' or 'zh', got {lang!r}", field="--lang")
        try:
            raw = json.loads(kwargs)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg} at column {exc.colno})", field="--kwargs") from None
        if not isinstance(raw, dict):
            raise InputError(f"expected a JSON object, got {type(raw).__name__}", field="--kwargs")
        ct = registry.get(cid)
        typer.echo(ct.render(ct.parse_kwargs(raw), lang))


def _family(ct) -> str:
    return type(ct).__module__.rsplit(".", 1)[-1]


def _in_family(ct, family: str | None) -> bool:
    if not family:
        return True
    return _family(ct) == family or ct.id.split(":", 1)[0] == family


def _type_name(annotation) -> str:
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (tuple, list):
        return f"list[{_type_name(args[0])}]" if args else "list"
    return getattr(annotation, "__name__", None) or str(annotation)
