"""The command lines' edge: one line and an exit status for every failure, the whole-number
option types, text safe for the terminal."""

from __future__ import annotations

import argparse

import pytest

from rag.edge import argument_text, count, debugging, guarded, positive, printable
from rag.errors import SourceError


def _raise(error: BaseException):
    def command() -> int:
        raise error

    return command


@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        (
            SourceError("no folder seeds/: create it"),
            2,
            "docqa: error: no folder seeds/: create it",
        ),
        (SourceError("bad \x1b[31mname"), 2, "docqa: error: bad [31mname"),
        (KeyboardInterrupt(), 130, "docqa: interrupted"),
        (
            ValueError("x"),
            1,
            "docqa: unexpected error (ValueError: x); run again with DOCQA_DEBUG=1 for details",
        ),
    ],
)
def test_guarded_turns_each_failure_into_one_line_and_a_status(
    error: BaseException, status: int, line: str, capsys, monkeypatch
) -> None:
    monkeypatch.delenv("DOCQA_DEBUG", raising=False)
    assert guarded("docqa", _raise(error)) == status
    assert capsys.readouterr().err == line + "\n"


def test_guarded_passes_the_command_s_status_on(capsys) -> None:
    assert guarded("evals", lambda: 0) == 0 and guarded("evals", lambda: 1) == 1
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("value", "on"), [("1", True), ("yes", True), ("0", False), ("", False)])
def test_docqa_debug_is_a_setting_read_alone(value: str, on: bool, monkeypatch) -> None:
    monkeypatch.setenv("DOCQA_DEBUG", value)
    monkeypatch.setenv("DOCQA_TOP_K", "not a number")  # a bad setting does not hide it
    assert debugging() is on


def test_under_docqa_debug_an_unexpected_error_shows_its_traceback(monkeypatch) -> None:
    monkeypatch.setenv("DOCQA_DEBUG", "1")
    with pytest.raises(ValueError, match="x"):
        guarded("docqa", _raise(ValueError("x")))


def test_whole_number_options() -> None:
    assert count("0") == 0 and positive("3") == 3
    for bad, parse, message in (
        ("x", count, "'x' is not a whole number"),
        ("-1", count, "-1 is negative"),
        ("0", positive, "0 is not a positive number"),
    ):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(bad)


def test_text_reaches_the_terminal_without_controls_or_lone_surrogates() -> None:
    assert printable("a\x1b[2Jb\tc\n\udcff") == "a[2Jb\tc\n\ufffd"
    assert argument_text("How \udcff?") == "How \ufffd?"


def test_printable_shows_bidirectional_controls_as_escapes() -> None:
    """A right-to-left override in a file name reorders the terminal's line: it is shown as
    its escape, and the rest of the text is kept."""
    assert printable("skipped invoice\u202etxt.exe: x") == "skipped invoice\\u202etxt.exe: x"
    assert printable("a\u2066b\u2069c\u200f") == "a\\u2066b\\u2069c\\u200f"
