"""The ``hepsift`` command line: a thin typer app that parses options and calls the API.

Imports stay light here so that ``hepsift --version`` answers at once: each command module in
:mod:`hepsift.commands` imports its heavy dependencies inside the command function. A
:class:`~hepsift.errors.HepsiftError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from hepsift import __version__
from hepsift.commands import (
    apply,
    data,
    example,
    fit,
    generate,
    models,
    plot,
    pnn,
    run,
    study,
)
from hepsift.errors import HepsiftError, one_line

__all__ = ["app", "main"]

#: Command modules, each with a ``register(app)`` function. Keep them light at import time.
COMMAND_MODULES = (example, generate, data, models, run, pnn, fit, apply, plot, study)

app = typer.Typer(
    name="hepsift",
    help="Sift signal from background in collider events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hepsift {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Sift signal from background in collider events."""


for _module in COMMAND_MODULES:
    _module.register(app)


#: the one line of a Ctrl-C (atomic writes: finished files stay, nothing is half-written)
INTERRUPTED = "interrupted: exit 130 (what was finished is kept; nothing half-written is left)"


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's usage-error classes: typer >= 0.26 raises those of its own copy of click."""
    import click

    found: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as TyperClickException
    except ImportError:  # an older typer uses the click package itself
        pass
    else:
        found.append(TyperClickException)
    return tuple(found)


def _one_line(exc: Exception) -> str:
    """A usage error as one line, with the command whose --help tells more."""
    message = " ".join(str(getattr(exc, "format_message", exc.__str__)()).split())
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    return f"{message} (see '{path} --help')" if path else message


#: the longest error line printed (messages quoting user input are cut in the middle)
MAX_ERROR_CHARS = 290


def _error(message: str) -> None:
    """Print ``error: MESSAGE`` as one line of at most :data:`MAX_ERROR_CHARS` characters.

    Whitespace (newlines included) collapses to single spaces; a longer message keeps its
    start and its end (where the allowed values and the "did you mean" usually are)."""
    line = "error: " + " ".join(message.split())
    if len(line) > MAX_ERROR_CHARS:
        head, tail = MAX_ERROR_CHARS * 2 // 3, MAX_ERROR_CHARS // 3 - 5
        line = f"{line[:head]} ... {line[-tail:]}"
    typer.echo(line, err=True)


def _os_error_line(exc: OSError) -> str:
    """An operating-system error on a user's path as one bounded line."""
    reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = f"'{paths[0]}'" + (f" -> '{paths[1]}'" if len(paths) > 1 else "") if paths else ""
    line = f"{where}: {reason}" if where else reason
    return one_line(line, 240) + " (check the path and its permissions)"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (2 on a user error, with one line on stderr)."""
    try:
        # commands return None; typer returns an exit code instead of raising in this mode,
        # and turns Ctrl-C (KeyboardInterrupt) into 130
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            if code == 130:
                typer.echo(INTERRUPTED, err=True)
            return code
    except HepsiftError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo(INTERRUPTED, err=True)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except _usage_errors() as exc:  # click usage errors arrive here in non-standalone mode
        _error(_one_line(exc))
        return 2
    except OSError as exc:  # a path the system refuses (not a folder, read-only, disk full...)
        _error(_os_error_line(exc))
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
