"""Words, stems and stopwords: what BM25 and coverage compare."""

from __future__ import annotations

import pytest

from rag.lexicon import STOPWORDS, stem, term_spans, terms, words


def test_stopwords_are_dropped_and_content_words_stemmed() -> None:
    assert terms("The missiles were fired") == ["missil", "fire"]
    assert {"the", "were", "and", "who", "what"} <= STOPWORDS
    assert terms("the a of and is was who what") == []


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("missile", "missiles"),
        ("fired", "firing"),
        ("sanction", "sanctions"),
        ("Korea's", "Korea"),  # a possessive is the word it belongs to
        ("Korea’s", "korea"),  # curly apostrophe and capitals alike
    ],
)
def test_forms_of_a_word_share_a_term(one: str, other: str) -> None:
    assert terms(one) == terms(other) != []


def test_words_keep_apostrophes_inside_and_fold_curly_ones() -> None:
    assert words("Korea’s tests, O'Brien's dog") == ["korea's", "tests", "o'brien's", "dog"]
    assert words("'quoted' words") == ["quoted", "words"]  # quotes around a word are not in it


def test_stem_drops_a_possessive_before_stemming() -> None:
    assert stem("korea's") == stem("korea") == "korea"
    assert stem("running") == stem("runs") == "run"


def test_term_spans_point_at_the_words_in_the_text() -> None:
    text = "On Friday, Korea’s army fired missiles."
    spans = term_spans(text)
    assert [term for _start, _end, term in spans] == terms(text)
    assert [text[start:end] for start, end, _term in spans] == [
        "Friday",
        "Korea’s",
        "army",
        "fired",
        "missiles",
    ]


@pytest.mark.parametrize("text", ["", " ", "?", "…", "— –"])
def test_text_without_words_has_no_terms(text: str) -> None:
    assert terms(text) == [] and words(text) == []
