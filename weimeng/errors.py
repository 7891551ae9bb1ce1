"""The one place where the `weimeng` command turns an error into words and an exit code.

Every command raises our own errors (:class:`common.errors.WeimengError` and the package errors below
it; a command's own check raises :class:`common.errors.BadInput`). :class:`WeimengGroup`, the group
class of every ``typer.Typer`` of the command, catches them around the command that runs and prints one
Chinese-first message on stderr, then exits with the kind's exit code (2: fix the call or the files;
1: try again later or report a bug). No traceback for an error we expected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from typer.core import TyperGroup

from common.errors import WeimengError

__all__ = ["WeimengGroup", "cli_errors", "error_line", "report"]


def error_line(err: WeimengError) -> str:
    """``错误 / error: <message>``: the message says what was wrong and how to fix it."""
    text = str(err).strip() or type(err).__name__
    return f"错误 / error: {text}"


def report(err: WeimengError) -> typer.Exit:
    """Print ``err`` on stderr; return the ``typer.Exit`` to raise (``raise report(err) from None``)."""
    typer.secho(error_line(err), fg=typer.colors.RED, err=True)
    return typer.Exit(err.exit_code)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn a :class:`WeimengError` raised inside into one message on stderr and its exit code."""
    try:
        yield
    except WeimengError as err:
        raise report(err) from None


class WeimengGroup(TyperGroup):
    """A typer group whose sub-commands (and nested groups) all end in :func:`cli_errors`.

    Use it for every ``typer.Typer`` of the command: ``typer.Typer(cls=WeimengGroup, ...)``. A sub-app
    that is run on its own (``python -m weimeng.commands.alerts``, tests with ``CliRunner``) reports
    errors the same way as when it is mounted under ``weimeng``.
    """

    def invoke(self, ctx):
        with cli_errors():
            return super().invoke(ctx)
