"""The user-facing error taxonomy, and turning exceptions into the one line a user reads (CLI
stderr, GUI message boxes).

``UserError`` is the base of every failure caused by input (a file, a flag, a setting): its
message is written for the user. ``ValueError`` and ``OSError`` from validation and file access
count as input errors too. Anything else, a ``KeyError`` or ``IndexError`` included, is a bug and
is labelled an internal error.
"""
from __future__ import annotations

import os
import traceback


class UserError(Exception):
    """Bad input, with a message written for the user (one line, names what is wrong)."""


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong. Expected failures (``UserError``, bad values, I/O) give
    their own message; anything else is labelled an internal error. Set DRD_DEBUG=1 to also get
    the traceback on stderr."""
    if os.environ.get("DRD_DEBUG"):
        traceback.print_exception(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    if isinstance(exc, (UserError, ValueError, OSError)):
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        return " ".join(text.split()) or type(exc).__name__
    return f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())}); rerun with DRD_DEBUG=1 for details"
