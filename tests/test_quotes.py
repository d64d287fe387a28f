"""rag.quotes: a quotation found word by word, one word off at most. Pure functions."""

from __future__ import annotations

import pytest

from rag import quotes
from rag.types import Document, Span

TEXT = (
    "“We are very focused with allies and partners in making sure that they and we are "
    'properly defended,” Blinken said. The sanctions aim at "isolating and stifling" the '
    "North. He called the tests “profoundly destabilizing”."
)
PASSAGE = Span("news.txt", 0, len(TEXT), TEXT)


@pytest.mark.parametrize(
    ("one", "other", "alike"),
    [
        ("destabilising", "destabilizing", True),
        ("colour", "color", False),  # too short to tell from another word
        ("defended", "defended", True),
        ("defended", "defender", True),
        ("partners", "partner", True),
        ("affected", "effected", True),
        ("stifling", "stuffing", False),  # two letters apart
        ("", "", True),
    ],
)
def test_words_spelled_alike(one: str, other: str, alike: bool) -> None:
    assert quotes.spelled_alike(one, other) is alike
    assert quotes.spelled_alike(other, one) is alike


@pytest.mark.parametrize(
    ("quote", "found"),
    [
        # a small word added, left out or changed
        ("very focused with our allies and partners", "very focused with allies and partners"),
        ("focused on allies and partners", "focused with allies and partners"),
        ("very focused with allies partners", "very focused with allies and partners"),
        # quote marks the source had inside, and a spelling
        ("isolating and stifling the North", 'isolating and stifling" the North'),
        ("profoundly destabilising", "profoundly destabilizing"),
    ],
)
def test_a_quotation_one_word_off_is_found(quote: str, found: str) -> None:
    place = quotes.near(quote, PASSAGE)
    assert place is not None
    assert TEXT[place[0] : place[1]] == found


@pytest.mark.parametrize(
    "quote",
    [
        "very focused with our allies and their partners",  # two words off
        "profoundly worrying",  # too short for a word to differ
        "isolating and helping all the North",  # a word changed, and one more
        "we are not properly defended",  # a negation
        "",
    ],
)
def test_a_quotation_further_off_is_not_found(quote: str) -> None:
    assert quotes.near(quote, PASSAGE) is None


@pytest.mark.parametrize(
    ("quote", "found"),
    [
        ("properly defended", "properly defended"),
        ("Properly defended", "properly defended"),  # its first letter capitalised
        ("profoundly destabilizing", "profoundly destabilizing"),
        # not part of a word: "e" of "We", "per" of "properly"
        ("e", None),
        ("per", None),
    ],
)
def test_a_quotation_starts_and_ends_on_whole_words(quote: str, found: str | None) -> None:
    document = Document(PASSAGE.doc_id, TEXT)
    span = quotes.locate(quote, [PASSAGE], {document.doc_id: document})
    assert (span.text if span is not None else None) == found
