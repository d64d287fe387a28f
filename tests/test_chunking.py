"""Sentence and clause splitting and chunking keep exact character offsets."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunking import (
    MAX_SENTENCE_CHARS,
    MIN_CLAUSE_WORDS,
    chunk_document,
    clauses,
    is_heading,
    pieces,
    sentences,
    split_sentences,
)
from rag.types import Document

# Text with the characters that break offset bookkeeping: curly quotes, non-ASCII,
# CRLF, blank lines, abbreviations and stray punctuation.
_PIECES = st.sampled_from(
    [
        "Hello world.",
        " ",
        "  ",
        "\n",
        "\r\n",
        "\n\n",
        "\t",
        "“Quoted,” she said.",
        "‘x’",
        "Mr. Smith",
        "U.S. forces",
        "e.g. this",
        "…",
        "...",
        "?",
        "!",
        "Ünïcödé façade.",
        "北朝鮮",
        "émigré",
        "42.",
        "3.14",
        "(aside.)",
        '"Yes." No.',
        "end",
        "A",
        "b.",
        "—",
    ]
)
_TEXT = st.one_of(st.text(max_size=300), st.lists(_PIECES, max_size=60).map("".join))


@given(_TEXT)
@settings(max_examples=300, deadline=None)
def test_sentence_spans_are_ordered_trimmed_and_cover_all_text(text: str) -> None:
    spans = split_sentences(text)
    covered = set()
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
        covered.update(range(start, end))
        previous_end = end
    uncovered = [i for i, ch in enumerate(text) if i not in covered and not ch.isspace()]
    assert uncovered == []


@given(_TEXT, st.integers(1, 5), st.integers(0, 4))
@settings(max_examples=300, deadline=None)
def test_chunks_quote_their_document_exactly(text: str, size: int, overlap: int) -> None:
    overlap = min(overlap, size - 1)
    document = Document("doc.txt", text)
    chunks = chunk_document(document, size, overlap)
    all_sentences = sentences(document)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert 1 <= len(chunk.sentences) <= size
        for sentence in chunk.sentences:
            assert text[sentence.start : sentence.end] == sentence.text
            assert chunk.start <= sentence.start < sentence.end <= chunk.end
    # Every sentence lands in some chunk, and neighbours share `overlap` sentences.
    assert {s for chunk in chunks for s in chunk.sentences} == set(all_sentences)
    for before, after in itertools.pairwise(chunks):
        shared = set(before.sentences) & set(after.sentences)
        assert len(shared) == min(overlap, len(after.sentences)) or after is chunks[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi there. Bye!", ["Hi there.", "Bye!"]),
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("The U.S. is here. It left.", ["The U.S. is here.", "It left."]),
        ("“Go,” he said. “Now.” Then silence.", ["“Go,” he said.", "“Now.”", "Then silence."]),
        ("Wait ... only this. Next.", ["Wait ... only this.", "Next."]),
        ("A headline\nThe body starts.", ["A headline", "The body starts."]),
        ("a line that\nwraps on.", ["a line that\nwraps on."]),
        ("One.\r\n\r\nTwo.", ["One.", "Two."]),
        ("", []),
        ("   \n\t ", []),
    ],
)
def test_split_sentences_examples(text: str, expected: list[str]) -> None:
    assert [text[start:end] for start, end in split_sentences(text)] == expected


def test_article_chunks_overlap_by_one_sentence(article_text: str) -> None:
    chunks = chunk_document(Document("a.txt", article_text), size=3, overlap=1)
    assert len(chunks) > 5
    assert chunks[-1].end == len(article_text)
    for before, after in itertools.pairwise(chunks):
        assert before.sentences[-1] == after.sentences[0]


@given(_TEXT)
@settings(max_examples=300, deadline=None)
def test_clauses_quote_their_sentence_in_order(text: str) -> None:
    for sentence in sentences(Document("doc.txt", text)):
        parts = clauses(sentence)
        assert len(parts) != 1  # a sentence of one clause has none
        previous_end = sentence.start
        for part in parts:
            assert text[part.start : part.end] == part.text and part.text.strip() == part.text
            assert previous_end <= part.start < part.end <= sentence.end
            previous_end = part.end


def test_clauses_split_at_commas_and_clause_words_but_keep_short_pieces() -> None:
    text = (
        "The council voted to close the old library on Tuesday, although hundreds of residents "
        "had signed a petition, the mayor said."
    )
    (sentence,) = sentences(Document("a.txt", text))
    assert [part.text for part in clauses(sentence)] == [
        "The council voted to close the old library on Tuesday",
        "although hundreds of residents had signed a petition, the mayor said.",
    ]
    assert all(len(part.text.split()) >= MIN_CLAUSE_WORDS for part in clauses(sentence))
    (short,) = sentences(Document("b.txt", "Sales rose, and costs fell."))
    assert clauses(short) == []


@pytest.mark.parametrize(
    ("text", "headings"),
    [
        ("Storm closes ferry routes\nThe storm closed every route.", ["Storm closes ferry routes"]),
        ("# Installation\nRun the installer.", ["# Installation"]),
        ("- install the package\n- run it", []),
        ("The storm closed every route.\nCrews waited.", []),
        # Too long for a heading, though it lacks a full stop.
        (
            "Ferries stopped at noon and the buses that replaced them ran late all day long as "
            "crowds built up at every stop, residents said",
            [],
        ),
    ],
)
def test_headings_are_short_lines_that_do_not_end_like_sentences(
    text: str, headings: list[str]
) -> None:
    document = Document("a.md", text)
    found = [span.text for span in sentences(document) if is_heading(span, document)]
    assert found == headings


def test_clauses_never_cut_a_list_in_half() -> None:
    text = (
        "The minister said on Monday that the city is working with the port authority, the "
        "ferry company and the unions to end the strike before the holiday."
    )
    (sentence,) = sentences(Document("a.txt", text))
    quoted = [part.text for part in clauses(sentence)] or [sentence.text]
    holding = [part for part in quoted if "the port authority" in part]
    assert holding and "the ferry company and the unions" in holding[0]


def test_headings_the_format_marks_are_headings_even_when_they_end_like_sentences() -> None:
    text = "What is new?\n\nThe ferry runs again."
    marked = Document("a.html", text, headings=((0, 12),))
    first, second = sentences(marked)
    assert is_heading(first, marked) and not is_heading(second, marked)
    assert not is_heading(first, Document("a.txt", text))


# -- absurdly long sentences -------------------------------------------------------------------


def test_a_sentence_of_a_million_characters_is_cut_at_white_space() -> None:
    # The hostile tester's file: 1.2 million characters with no full stop. spaCy refuses
    # texts over 1,000,000 characters, and no reader wants one "sentence" that long.
    text = "word " * 240_000 + "end\n"
    document = Document("long.txt", text)
    spans = sentences(document)
    assert len(spans) > len(text) // MAX_SENTENCE_CHARS
    for span in spans:
        assert span.text == text[span.start : span.end]
        assert 0 < len(span.text) <= MAX_SENTENCE_CHARS
        assert span.text.startswith(("word", "end")) and span.text.endswith(("word", "end"))
    assert "".join(span.text + " " for span in spans) == text.replace("\n", " ")
    for chunk in chunk_document(document, size=3, overlap=1):
        assert chunk.text == text[chunk.start : chunk.end]


def test_a_long_run_with_no_white_space_is_cut_at_the_limit() -> None:
    text = "x" * (2 * MAX_SENTENCE_CHARS + 500)
    size = MAX_SENTENCE_CHARS
    assert split_sentences(text) == [(0, size), (size, 2 * size), (2 * size, len(text))]
    # white space too early to leave a piece half as long is not used
    assert split_sentences("ab " + text)[0] == (0, size)


def test_sentences_within_the_limit_are_never_cut() -> None:
    sentence = "A long but ordinary sentence, " * (MAX_SENTENCE_CHARS // 30 - 1) + "ends here."
    text = f"{sentence} Next one."
    assert len(sentence) <= MAX_SENTENCE_CHARS
    assert [text[start:end] for start, end in split_sentences(text)] == [sentence, "Next one."]


def test_pieces_example() -> None:
    assert pieces("one two three", 0, 13, 8) == [(0, 7), (8, 13)]
    assert pieces("  one two three  ", 0, 17, 8) == [(2, 9), (10, 15)]
    assert pieces(" \n ", 0, 3, 2) == []


@given(st.lists(st.sampled_from(["ab", "c", "defghij", " ", "  ", "\n", "é", "北朝"]), max_size=80))
@settings(max_examples=300, deadline=None)
def test_pieces_are_short_trimmed_and_keep_every_character(parts: list[str]) -> None:
    text = "".join(parts)
    for size in (1, 2, 5, 8):
        spans = pieces(text, 0, len(text), size)
        for start, end in spans:
            assert 0 < end - start <= size
            assert not text[start].isspace() and not text[end - 1].isspace()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        # every character but the white space at the cuts is in exactly one piece
        kept = "".join("".join(text[start:end].split()) for start, end in spans)
        assert kept == "".join(text.split())
