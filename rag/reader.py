"""The extractive reader: a pure function from retrieved candidates to a reading.

The sentence model scores every candidate; the best one answers when its probability
reaches the no-answer threshold chosen on validation articles, otherwise the reader
abstains. Inside the answering sentence the phrase model picks the short answer. A long
sentence is quoted by the clauses from the one closest to the question through the one that
holds the short answer.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.features import phrase_features, sentence_features
from rag.lexicon import terms
from rag.ranker import ReaderModel
from rag.retrieval import Candidate, Retrieval
from rag.types import Span

MAX_QUOTE_WORDS = 25  # a longer sentence is quoted by its answering clauses


class Abstention(enum.Enum):
    """Why the reader did not answer."""

    NO_CANDIDATES = "nothing in the sources matches the question"
    NO_TERMS = "the question has no words to look for"
    LOW_CONFIDENCE = "no passage is likely enough to answer it"


@dataclass(frozen=True)
class Reading:
    """The reader's verdict: the spans to quote and the short answer, or an abstention."""

    spans: tuple[Span, ...]
    short: Span | None
    confidence: float  # the sentence model's probability for the best candidate
    abstention: Abstention | None = None

    @property
    def abstained(self) -> bool:
        """True when the reader found no answer."""
        return self.abstention is not None


def read(retrieval: Retrieval, model: ReaderModel) -> Reading:
    """Choose the answering sentence, its short answer and its quote, or abstain."""
    query, found = retrieval.query, retrieval.candidates
    if not query.terms:
        return Reading((), None, 0.0, Abstention.NO_TERMS)
    if not found:
        return Reading((), None, 0.0, Abstention.NO_CANDIDATES)
    scores = model.sentence.predict(sentence_features(query, found, model.prior))
    best = int(np.argmax(scores))
    confidence = float(scores[best])
    if confidence < model.no_answer_threshold:
        return Reading((), None, confidence, Abstention.LOW_CONFIDENCE)
    chosen = found[best]
    short = short_answer(retrieval, chosen, model)
    return Reading((quote(chosen, short),), short, confidence)


def short_answer(retrieval: Retrieval, chosen: Candidate, model: ReaderModel) -> Span | None:
    """The phrase of the chosen sentence the phrase model likes best, if it likes it enough;
    phrases made only of the question's own words never answer it."""
    question = set(retrieval.query.terms)
    rows = phrase_features(retrieval.query, chosen, model.prior)
    if not len(rows):
        return None
    scores = model.phrase.predict(rows)
    sentence = chosen.sentence
    best, best_score = None, model.short_threshold
    for phrase, phrase_score in zip(chosen.phrases, scores, strict=True):
        found = set(terms(sentence.text[phrase.start : phrase.end]))
        if phrase_score >= best_score and found and not found <= question:
            best, best_score = phrase, float(phrase_score)
    if best is None:
        return None
    start, end = sentence.start + best.start, sentence.start + best.end
    return Span(sentence.doc_id, start, end, sentence.text[best.start : best.end])


def quote(chosen: Candidate, short: Span | None) -> Span:
    """What to quote of the chosen sentence: all of a short one; of a long one, the clauses
    from the one closest to the question through the one holding the short answer."""
    sentence = chosen.sentence
    parts: Sequence[Span] = chosen.clauses
    if len(sentence.text.split()) <= MAX_QUOTE_WORDS or chosen.best_clause < 0 or short is None:
        return sentence
    keep = {chosen.best_clause}
    keep |= {at for at, part in enumerate(parts) if part.start <= short.start < part.end}
    keep |= {at for at, part in enumerate(parts) if part.start < short.end <= part.end}
    first, last = parts[min(keep)], parts[max(keep)]
    offset = sentence.start
    return Span(
        sentence.doc_id,
        first.start,
        last.end,
        sentence.text[first.start - offset : last.end - offset],
    )
