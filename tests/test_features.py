"""The reader's features on hand-built candidates: one row per candidate or phrase, in the
order the models were fitted on, ranks from 0 for the best, and no NaN or infinity."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer_types import LABELS
from rag.features import (
    PHRASE_FEATURES,
    SENTENCE_FEATURES,
    kind_fit,
    phrase_features,
    sentence_features,
)
from rag.question import KINDS
from rag.types import Document, Phrase
from tests.conftest import hand_candidate, hand_query

TEXT = (
    "The ferry left Brackley at dawn on Tuesday. The council hired eleven sailors for the "
    "ferry, according to the harbour master Oskar Lind. The bridge stayed shut.\n"
)
DOC = Document("harbour.txt", TEXT)
SENTENCES = (
    "The ferry left Brackley at dawn on Tuesday.",
    "The council hired eleven sailors for the ferry, according to the harbour master Oskar Lind.",
    "The bridge stayed shut.",
)
PRIOR = {kind: dict.fromkeys(LABELS, 1 / len(LABELS)) for kind in KINDS}
SENTENCE = {name: at for at, name in enumerate(SENTENCE_FEATURES)}
PHRASE = {name: at for at, name in enumerate(PHRASE_FEATURES)}


def _candidates(dense=(0.2, 0.7, 0.1), bm25=(1.5, 4.0, 0.0), coverage=(0.5, 1.0, 0.0)):
    corpus_ranks = (7, 3, 99)
    phrases = (
        [("The ferry", "NP"), ("Brackley", "GPE"), ("Tuesday", "DATE")],
        [("The council", "NP"), ("eleven", "CARDINAL"), ("Oskar Lind", "PERSON")],
        [],
    )
    return [
        hand_candidate(
            DOC, text, found, split=True, dense=d, clause_dense=d, bm25=b, coverage=c, dense_rank=r
        )
        for text, found, d, b, c, r in zip(
            SENTENCES, phrases, dense, bm25, coverage, corpus_ranks, strict=True
        )
    ]


def test_sentence_features_have_one_row_per_candidate_in_the_fitted_order() -> None:
    query = hand_query("How many sailors did the council hire?")
    rows = sentence_features(query, _candidates(), PRIOR)
    assert rows.shape == (3, len(SENTENCE_FEATURES)) and rows.dtype == np.float32
    assert np.isfinite(rows).all()
    assert (rows[:, SENTENCE["kind"]] == KINDS.index("number")).all()
    np.testing.assert_allclose(rows[:, SENTENCE["dense"]], [0.2, 0.7, 0.1], rtol=1e-6)
    np.testing.assert_allclose(rows[:, SENTENCE["coverage"]], [0.5, 1.0, 0.0])
    assert (rows[:, SENTENCE["candidates"]] == 3).all()
    # Ranks among the candidates are computed here; ranks in the corpus come from retrieval.
    assert rows[:, SENTENCE["bm25_rank"]].tolist() == [1, 0, 2]
    assert rows[:, SENTENCE["corpus_dense_rank"]].tolist() == [7, 3, 99]


def test_ranks_are_zero_for_the_best() -> None:
    query = hand_query("How many sailors did the council hire?")
    rows = sentence_features(query, _candidates(dense=(0.2, 0.7, 0.1), bm25=(1.5, 0.5, 4.0)), PRIOR)
    assert rows[:, SENTENCE["bm25_rank"]].tolist() == [1, 2, 0]
    # The best candidate is where the gaps to the best are zero.
    assert rows[1, SENTENCE["dense_gap"]] == 0 and rows[0, SENTENCE["dense_gap"]] > 0
    assert rows[2, SENTENCE["bm25_share"]] == 1.0


@pytest.mark.parametrize(
    "question",
    [
        "How many sailors did the council hire?",
        "Who is Oskar Lind?",  # every phrase of a sentence may be question words
        "What colour is the sky?",  # no question word in any candidate
        "Why?",  # no terms at all
    ],
)
def test_features_are_finite_even_when_nothing_matches(question: str) -> None:
    query = hand_query(question)
    flat = _candidates(dense=(0.0, 0.0, 0.0), bm25=(0.0, 0.0, 0.0), coverage=(0.0, 0.0, 0.0))
    for candidates in (flat, flat[:1], _candidates()):
        rows = sentence_features(query, candidates, PRIOR)
        assert rows.shape == (len(candidates), len(SENTENCE_FEATURES))
        assert np.isfinite(rows).all()
        for candidate in candidates:
            phrases = phrase_features(query, candidate, PRIOR)
            assert phrases.shape == (len(candidate.phrases), len(PHRASE_FEATURES))
            assert np.isfinite(phrases).all()


def test_no_candidates_no_rows() -> None:
    query = hand_query("How many sailors did the council hire?")
    assert sentence_features(query, [], PRIOR).shape == (0, len(SENTENCE_FEATURES))
    no_phrases = _candidates()[2]
    assert phrase_features(query, no_phrases, PRIOR).shape == (0, len(PHRASE_FEATURES))


def test_phrase_features_describe_each_phrase() -> None:
    query = hand_query("How many sailors did the council hire?")
    council = _candidates()[1]
    rows = phrase_features(query, council, PRIOR)
    assert rows.shape == (3, len(PHRASE_FEATURES)) and rows.dtype == np.float32
    column = rows.T
    assert column[PHRASE["label"]].tolist() == [
        LABELS.index("NP"),
        LABELS.index("CARDINAL"),
        LABELS.index("PERSON"),
    ]
    # "The council" is the question's own word; "eleven" is new and stands next to "sailors".
    assert column[PHRASE["question_overlap"]].tolist() == [1.0, 0.0, 0.0]
    distance = column[PHRASE["term_distance"]]
    assert distance[1] < distance[2]
    assert column[PHRASE["capitalised"]].tolist() == [0.5, 0.0, 1.0]  # share of words
    assert column[PHRASE["words"]].tolist() == [2, 1, 2]
    assert (column[PHRASE["relative_start"]] >= 0).all()
    assert (column[PHRASE["relative_start"]] < 1).all()


def test_cross_features_are_the_logits_the_margin_and_the_questions_answerability() -> None:
    from rag.features import cross_features

    rows = cross_features(np.array([2.0, -1.0, 0.5]), np.array([0.5, 0.9, 0.1]), 0.9)
    assert rows[:, 0].tolist() == [2.0, -1.0, 0.5]
    assert rows[:, 3] == pytest.approx([np.log(9)] * 3)  # the question's, on every row
    assert rows[:, 1] == pytest.approx([0.0, np.log(9), -np.log(9)])
    assert rows[:, 2].tolist() == [1.5, -3.0, -1.5]  # the best's lead; the others' gap
    assert cross_features(np.array([1.0]), np.array([1.0]))[0, 2] == 0.0  # one read: no margin
    assert np.isfinite(cross_features(np.array([0.0]), np.array([1.0]))).all()


@pytest.mark.parametrize(
    ("question", "date", "fits"),
    [
        ("In what year was the bridge opened?", "early Friday", -1.0),
        ("In what year was the bridge opened?", "spring 1962", 1.0),
        ("In what year was the bridge opened?", "the summer of '62", 1.0),
        ("Which decade saw the most floods?", "the 1960s", 1.0),
        ("Which decade saw the most floods?", "last Tuesday", -1.0),
        ("Which century was the abbey built in?", "the 12th century", 1.0),
        ("What date was the bridge opened?", "early Friday", 1.0),  # any date names a date
    ],
)
def test_a_question_asking_for_a_year_is_fitted_only_by_a_date_naming_one(
    question: str, date: str, fits: float
) -> None:
    query = hand_query(question)
    text = f"The bridge opened {date}."
    phrase = Phrase(text.index(date), text.index(date) + len(date), "DATE")
    assert query.kind == "date"
    assert kind_fit(query.kind, text, (phrase,), set(query.terms)) == fits
