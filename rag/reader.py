"""The extractive reader: a pure function from retrieved candidates to a reading.

The sentence model scores every candidate; inside the best one the phrase model scores the
phrases that could be the short answer; the answerability model judges, from the best
sentence's score and how close in meaning the sentences come, how likely the sources are to
answer at all. Below the no-answer threshold chosen on validation articles the reader
abstains. A long sentence is quoted by the clauses from the one closest to the question
through the one that holds the short answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag.cross_encoder import candidate_passage
from rag.features import (
    CONTEXT_FEATURES,
    FITTING_LABELS,
    answer_features,
    context_columns,
    cross_features,
    kind_fit,
    phrase_features,
    sentence_features,
)
from rag.lexicon import terms
from rag.ranker import CrossRoute, ReaderModel
from rag.types import Abstention, Candidate, Reading, Retrieval, Span

MAX_QUOTE_WORDS = 25  # a longer sentence is quoted by its answering clauses
# The cross-encoder route never chooses a candidate whose sentence and context lack a question
# word rarer (by idf) than the rarest one the best-placed candidate it read lacks, by more than
# this: among look-alike files ("Its library was founded by ...") the cross-encoder barely reads
# the town's name in the context. Chosen on the choose domains (training/route.py): top-1 there
# 0.740 to 0.763 with it, 0.750 to 0.763 without, and 38 of 40 look-alike questions (36 without).
MISSING_SLACK = 2.0
# The cross-encoder does not read a candidate the fast model scores under this share of its
# best: on the choose domains that halves what it reads (1.9 of the best 4 on average) and
# picks the answering sentence as often (worst domain 0.740 to 0.742); 0.1 lost 10 points on
# the calibration tune half.
READ_SHARE = 0.05


def read(retrieval: Retrieval, model: ReaderModel) -> Reading:
    """Choose the answering sentence, its short answer and its quote, or abstain."""
    query, found = retrieval.query, retrieval.candidates
    if not query.terms:
        return Reading((), None, 0.0, Abstention.NO_TERMS)
    if not found:
        return Reading((), None, 0.0, Abstention.NO_CANDIDATES)
    if not shares_a_word(found):
        return Reading((), None, 0.0, Abstention.NO_WORD_SHARED)
    judged = judge(retrieval, model)
    scores = tuple(judged.scores.tolist())
    if judged.confidence < model.no_answer_threshold:
        return Reading((), None, judged.confidence, Abstention.LOW_CONFIDENCE, scores)
    chosen = found[judged.best]
    short = None
    if judged.phrase >= 0 and judged.phrase_score >= model.short_threshold:
        short = _phrase_span(chosen, judged.phrase)
    spans = (quote(chosen, short),)
    question = set(query.terms)
    if kind_fit(query.kind, chosen.sentence.text, chosen.phrases, question) < 0:
        # "Who founded the library in X?" answered by "X is a town. Its library was founded
        # by N.": the sentence that matches names no person, the one beside it does.
        beside = answering_neighbour(retrieval, chosen, model)
        if beside is not None:
            neighbour, short = beside
            spans = tuple(sorted((chosen.sentence, neighbour.sentence), key=lambda s: s.start))
    return Reading(spans, short, judged.confidence, scores=scores)


def shares_a_word(found: Sequence[Candidate]) -> bool:
    """Whether any candidate's sentence or its neighbours hold a word of the question. Of
    815 answerable questions on the choose and heldout domains none lacked one (what matched
    was meaning alone), while off-topic questions ("What is the weather forecast for Tokyo
    tomorrow?" of a news article) do: those are refused before any model reads them."""
    return any(candidate.context_coverage > 0 for candidate in found)


def answering_neighbour(
    retrieval: Retrieval, chosen: Candidate, model: ReaderModel
) -> tuple[Candidate, Span] | None:
    """The sentence just before or after `chosen` that holds a phrase of the kind asked for,
    as a candidate, with that phrase as the short answer; None when neither does."""
    question = set(retrieval.query.terms)
    best: tuple[float, Candidate, Span] | None = None
    for sentence, phrases in chosen.beside:
        if kind_fit(retrieval.query.kind, sentence.text, phrases, question) < 1:
            continue
        neighbour = replace(
            chosen, sentence=sentence, phrases=phrases, clauses=(), best_clause=-1, beside=()
        )
        at, score = best_phrase(retrieval, neighbour, model, fitting_only=True)
        if at >= 0 and (best is None or score > best[0]):
            best = (score, neighbour, _phrase_span(neighbour, at))
    return None if best is None else (best[1], best[2])


def _phrase_span(candidate: Candidate, at: int) -> Span:
    phrase = candidate.phrases[at]
    sentence = candidate.sentence
    return Span(
        sentence.doc_id,
        sentence.start + phrase.start,
        sentence.start + phrase.end,
        sentence.text[phrase.start : phrase.end],
    )


@dataclass(frozen=True)
class Judgement:
    """Every model's verdict on one retrieval, before any threshold is applied."""

    scores: np.ndarray  # the sentence model's probability per candidate
    best: int  # the best candidate
    phrase: int  # the best phrase of the best candidate that is not only question words; -1
    phrase_score: float
    confidence: float  # the answerability model's probability that the sources answer


def judge(retrieval: Retrieval, model: ReaderModel) -> Judgement:
    """Run the models over a retrieval that has candidates (training reuses this): the fast
    sentence model scores every candidate; with a cross-encoder route, the cross-encoder
    reads the question with each of the fast model's best few and the route's answer model
    chooses among them and gives the confidence, else the answerability model does."""
    query, found = retrieval.query, retrieval.candidates
    rows = sentence_features(query, found, model.prior)
    scores = model.sentence.predict(rows)
    best = int(np.argmax(scores))
    confidence = float(model.answerable.predict(answer_features(rows, scores))[0])
    if model.cross is not None:
        context = context_columns(rows)
        scores, best = cross_read(retrieval, scores, confidence, context, model.cross)
    # A short answer is of the kind asked for: a "where" question is never answered "September".
    typed = query.kind in FITTING_LABELS
    phrase, phrase_score = best_phrase(retrieval, found[best], model, fitting_only=typed)
    return Judgement(scores, best, phrase, phrase_score, confidence)


def cross_read(
    retrieval: Retrieval,
    scores: np.ndarray,
    answerable: float,
    context: np.ndarray,
    route: CrossRoute,
) -> tuple[np.ndarray, int]:
    """The cross-encoder's reading of the fast model's best candidates (`to_read`; given the
    fast models' `scores` and `answerable` confidence, and the candidates' `context`
    features): the candidates' scores (those it read rank first, by the route's
    probability, the rest after them by the fast model's) and the best candidate. The
    confidence stays the answerability model's: the cross-encoder's scores separate
    answerable from unanswerable questions less well than it (see training/route.py). With
    one candidate to read, the fast model's choice stands unread."""
    top = to_read(scores, route.top_k)
    if len(top) < 2:
        return scores, int(top[0])
    question = retrieval.query.part or retrieval.query.standalone
    passages = [candidate_passage(retrieval.candidates[at]) for at in top]
    logits = route.encoder.logits(question, passages)
    read = route_probabilities(route, logits, scores[top], answerable, context[top])
    ranked = scores * 0.5  # below every candidate read (each of those scores 0.5 or more)
    ranked[top] = 0.5 + read / 2
    return ranked, int(top[int(np.argmax(read))])


def route_probabilities(
    route: CrossRoute,
    logits: np.ndarray,
    fast: np.ndarray,
    answerable: float,
    context: np.ndarray,
) -> np.ndarray:
    """The route's probability that each candidate read answers (the cross-encoder's
    `logits`, the fast model's scores, the answerability and each one's context features),
    0 for a candidate out of reach (`within_reach`). Serving and training choose by it."""
    read = route.answer.predict(cross_features(logits, fast, answerable, context))
    return np.where(within_reach(context), read, 0.0)


def to_read(scores: np.ndarray, top_k: int) -> np.ndarray:
    """The candidates the cross-encoder reads, best first: the fast model's `top_k` best,
    less those it scores under READ_SHARE of its best (never the best itself).

    to_read(np.array([0.01, 0.6, 0.2]), 3) -> [1, 2]
    """
    top = np.argsort(-scores, kind="stable")[:top_k]
    return top[scores[top] >= READ_SHARE * scores[top[0]]]


def within_reach(context: np.ndarray) -> np.ndarray:
    """Which of the candidates read (rows of rag.features.CONTEXT_FEATURES) the route may
    choose: those whose rarest missing question word is within MISSING_SLACK of the least
    any of them misses."""
    missing = context[:, CONTEXT_FEATURES.index("context_missing_idf")]
    return missing <= missing.min() + MISSING_SLACK


def best_phrase(
    retrieval: Retrieval, chosen: Candidate, model: ReaderModel, fitting_only: bool = False
) -> tuple[int, float]:
    """The phrase of the chosen sentence the phrase model likes best and its probability
    ((-1, 0.0) when there is none); phrases made only of the question's own words never
    answer it, and with `fitting_only` only phrases of the kind asked for count."""
    rows = phrase_features(retrieval.query, chosen, model.prior)
    if not len(rows):
        return -1, 0.0
    question = set(retrieval.query.terms)
    text = chosen.sentence.text
    best, best_score = -1, 0.0
    for at, (phrase, score) in enumerate(
        zip(chosen.phrases, model.phrase.predict(rows), strict=True)
    ):
        found = set(terms(text[phrase.start : phrase.end]))
        if fitting_only and kind_fit(retrieval.query.kind, text, (phrase,), question) < 1:
            continue
        if found and not found <= question and score > best_score:
            best, best_score = at, float(score)
    return best, best_score


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
