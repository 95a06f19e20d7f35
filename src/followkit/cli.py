"""The `followkit` entry point: runs the command app (followkit.commands) and turns errors into one line."""

from __future__ import annotations

import sys

import typer

from followkit.commands import app, register_commands, usage_error_types, usage_line

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print one line and exit 2, never a traceback."""
    from followkit.core.errors import FollowkitError
    from followkit.core.paths import quiet_library_bars, set_default_threads

    set_default_threads()
    quiet_library_bars()
    try:
        register_commands()  # a broken plugin command is a one-line error too
        app(args=argv, standalone_mode=False)
    except FollowkitError as exc:
        from followkit.core.redact import redact

        typer.secho(redact(f"error: {' '.join(str(exc).split())}"), fg="red", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.secho("aborted", fg="red", err=True)
        return 130
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="red", err=True)
        return 130
    except Exception as exc:  # click usage errors arrive here in standalone_mode=False
        if isinstance(exc, usage_error_types()):
            typer.secho(" ".join(usage_line(exc).split()), fg="red", err=True)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
