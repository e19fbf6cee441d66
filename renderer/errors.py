"""Turning exceptions into the one line a user reads (CLI stderr, GUI message boxes)."""
from __future__ import annotations

import os
import traceback


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong. Expected failures (bad files, bad values, I/O) give their
    own message; anything else is labelled an internal error. Set DRD_DEBUG=1 to also get the
    traceback on stderr."""
    if os.environ.get("DRD_DEBUG"):
        traceback.print_exception(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    if isinstance(exc, (ValueError, OSError, KeyError, LookupError)) or type(exc).__module__.startswith("renderer"):
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        return " ".join(text.split()) or type(exc).__name__
    return f"internal error ({type(exc).__name__}: {' '.join(str(exc).split())}); rerun with DRD_DEBUG=1 for details"
