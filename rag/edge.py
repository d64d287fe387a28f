"""The edge of docqa's command lines (`docqa`, `python -m evals`, `python -m bench`): one error
edge, so that a failure is one line and an exit status, never a traceback; the whole-number
option types; text made safe for the terminal."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable

from rag.errors import DocQAError
from rag.presentation import without_bidi
from rag.settings import Settings


def guarded(prog: str, command: Callable[[], int]) -> int:
    """`command()`'s exit status; what it raises becomes one line on standard error, after
    `prog`, and a status: 2 for a DocQAError (its message says what to do), 130 for Ctrl-C,
    1 for anything else (raised again under DOCQA_DEBUG, to show its traceback)."""
    try:
        return command()
    except DocQAError as error:
        print(f"{prog}: error: {printable(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the edge of the program: report, never a traceback
        logging.getLogger(prog).debug("unexpected failure", exc_info=True)
        print(
            f"{prog}: unexpected error ({type(error).__name__}: {error}); "
            "run again with DOCQA_DEBUG=1 for details",
            file=sys.stderr,
        )
        if debugging():
            raise
        return 1


def debugging() -> bool:
    """The DOCQA_DEBUG setting, read alone: the other settings may be what went wrong."""
    only = {name: value for name, value in os.environ.items() if name == "DOCQA_DEBUG"}
    try:
        return Settings.from_env(only).debug
    except DocQAError:
        return False


def count(text: str) -> int:
    """A whole-number option of at least 0, for argparse: count("3") -> 3."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def positive(text: str) -> int:
    """A whole-number option of at least 1, for argparse: positive("0") is an error."""
    value = count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def argument_text(raw: str) -> str:
    """An argument as text: bytes that are not UTF-8 (which Python hands over as lone
    surrogates) become U+FFFD, so they never reach the output as bytes that are not UTF-8."""
    return _SURROGATE.sub("\ufffd", raw)


def printable(text: str) -> str:
    """`text` without terminal control characters (escape sequences from a source file or a
    file name never reach the terminal), lone surrogates shown as U+FFFD, bidirectional
    controls as their escapes; newlines and tabs stay."""
    return without_bidi(_SURROGATE.sub("\ufffd", _CONTROL.sub("", text)))
