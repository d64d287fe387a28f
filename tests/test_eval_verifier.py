"""evals.verifier: each sentence is judged with its reply's question and the verdict on the
sentence before it, as the generative path judges them."""

from __future__ import annotations

from evals.verifier import Labelled, Reply, judge, scores
from rag.types import Document, Span

MINUTES = (
    "TOWN COUNCIL MINUTES\n\n"
    "12/1  Skate park\n"
    "Cllr Rao proposed that the council accept the quote. The motion was carried by 7 votes "
    "to 2.\n\n"
    "12/2  Electric vehicle charging\n"
    "Cllr Fenwick introduced her motion to install chargers. It was resolved to defer the "
    "motion to the April meeting.\n"
)
DOC = Document("minutes.txt", MINUTES)


def test_sentences_are_judged_with_the_question_and_the_sentence_before() -> None:
    passage = Span(DOC.doc_id, 0, len(MINUTES), MINUTES)
    reply = Reply(
        "r1",
        "Was the electric vehicle charging motion approved?",
        "gpt-4o-mini",
        (passage,),
        (
            Labelled("The motion was deferred to the April meeting [1].", True, "close"),
            Labelled("The motion was carried by 7 votes to 2 [1].", False, "swapped-entity"),
        ),
    )
    judged = judge([reply], {DOC.doc_id: DOC})
    assert [j.verdict.kept for j in judged] == [True, False]
    assert "electric" in judged[1].verdict.reason
    assert scores(judged)["answers_surviving"] == 1
