"""Resolving a follow-up's pronoun against the earlier question."""

from __future__ import annotations

import pytest

from rag.followup import standalone


@pytest.mark.parametrize(
    ("question", "history", "resolved"),
    [
        ("What did he say?", ["Where did Ned Price speak?"], "What did Ned Price say?"),
        ("What was his job?", ["Where did Ned Price speak?"], "What was Ned Price's job?"),
        # Of several names, the longest: the full name over a part of it.
        ("Who hired him?", ["Did Price meet Ned Price?"], "Who hired Ned Price?"),
        # "she" is never a day: with no name left, the definite noun (here an owner) stands in.
        (
            "What did she miss?",
            ["How long did the nurse's trip take on Monday?"],
            "What did the nurse miss?",
        ),
        ("What do they want?", ["What did the union vote for in May?"], "What do the union want?"),
        # "it" may well be the day.
        ("Why was it quiet?", ["What happened on Monday?"], "Why was Monday quiet?"),
    ],
)
def test_a_pronoun_becomes_what_the_earlier_question_was_about(
    question: str, history: list[str], resolved: str
) -> None:
    assert standalone(question, history) == resolved


def test_without_a_referent_the_earlier_question_is_appended() -> None:
    assert standalone("Why did it fall?", ["what rose?"]) == "Why did it fall? (what rose?)"


def test_a_question_without_a_pronoun_or_history_is_left_alone() -> None:
    assert standalone("Who spoke?", ["Where did Ned Price speak?"]) == "Who spoke?"
    assert standalone("What did he say?", []) == "What did he say?"
