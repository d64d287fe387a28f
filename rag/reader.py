"""The extractive reader: picks the sentence(s) that answer, or decides the source cannot.

Each candidate sentence gets one score from three signals: its dense similarity to the
question, the idf-weighted share of the question's terms it holds, and whether it holds an
answer of the kind the question asks for (a number, a day, a name ...). The best sentence
answers when the evidence around it is strong enough; a second sentence joins it when it
holds question terms the first lacks (answers that span two sentences).
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.retrieval import Candidate, Corpus, Retrieval, coverage
from rag.text import answer_spans, wants_typed_answer
from rag.types import Span

# Weights of the sentence score and the abstention thresholds below were chosen by a grid
# search on the eval suite's tuning split only (see README, "Answer quality").
W_DENSE = 1.0
W_COVERAGE = 1.0
W_TYPE = 0.35
# Abstention: the evidence must reach all of these.
MIN_DENSE = 0.30  # cosine of the candidate closest to the question
MIN_EVIDENCE = 0.4  # score of the best sentence, less the unknown-terms penalty
W_UNKNOWN = 0.6  # penalty per share of the question's weight in terms the corpus never uses
# A second sentence joins when it adds this much coverage and scores this share of the best.
MIN_COVERAGE_GAIN = 0.15
MIN_SECOND_SCORE = 0.6


@dataclass(frozen=True)
class Reading:
    """The reader's verdict: the spans to quote, best first, or an abstention."""

    spans: list[Span]
    abstained: bool
    reason: str = ""
    confidence: float = 0.0  # the evidence score; answers need at least MIN_EVIDENCE


def read(corpus: Corpus, retrieval: Retrieval, kind: str, counted: set[str]) -> Reading:
    """Choose the answering sentence(s) among the retrieval's candidates, or abstain.

    `kind` is the kind of answer wanted; `counted` what a "how many" question counts."""
    candidates = retrieval.candidates
    if not candidates or not retrieval.question_terms:
        return Reading([], True, "no evidence")
    wanted = set(retrieval.question_terms)
    typed = {
        c.row: bool(answer_spans(c.sentence.text, kind, wanted, counted))
        or not wants_typed_answer(kind)
        for c in candidates
    }

    def score(c: Candidate) -> float:
        bonus = W_TYPE * typed[c.row] if wants_typed_answer(kind) else 0.0
        return W_DENSE * c.dense + W_COVERAGE * c.coverage + bonus

    ranked = sorted(candidates, key=score, reverse=True)
    best = ranked[0]
    by_row = {c.row: c for c in candidates}
    # A neighbour may supply the answer the best sentence lacks ("..., he said." names the
    # speaker next door), if it shares some of the question's words.
    neighbours = [
        by_row[row]
        for row in (best.row - 1, best.row + 1)
        if row in by_row and by_row[row].coverage > 0
    ]
    context = [best, *neighbours]
    closest = max(c.dense for c in candidates)
    if closest < MIN_DENSE and best.coverage < MIN_DENSE:
        return Reading([], True, f"nothing close to the question ({closest:.2f})")
    if not any(typed[c.row] for c in context):
        return Reading([], True, f"no {kind} in the evidence")
    evidence = score(best) - W_UNKNOWN * unknown_share(corpus, retrieval.question_terms)
    if evidence < MIN_EVIDENCE:
        return Reading([], True, f"too little evidence ({evidence:.2f})", evidence)

    chosen = [best]
    if not typed[best.row]:
        chosen.append(next(c for c in neighbours if typed[c.row]))
    else:
        second = _complement(corpus, retrieval, best, ranked[1:], score(best), score)
        if second is not None:
            chosen.append(second)
    chosen.sort(key=lambda c: (c.sentence.doc_id, c.sentence.start))
    return Reading([c.sentence for c in chosen], False, confidence=evidence)


def unknown_share(corpus: Corpus, question_terms: list[str]) -> float:
    """The idf-weighted share of the question's terms that no sentence of the corpus uses."""
    wanted = set(question_terms)
    total = sum(corpus.idf(term) for term in wanted)
    unknown = sum(corpus.idf(term) for term in wanted if term not in corpus.term_idf)
    return unknown / total if total else 1.0


def _complement(corpus, retrieval, best, others, best_score, score) -> Candidate | None:
    """The sentence that adds the most missing question terms, if it adds enough."""
    base = corpus.sentence_terms[best.row]
    top, top_gain = None, MIN_COVERAGE_GAIN
    for other in others:
        if score(other) < MIN_SECOND_SCORE * best_score:
            break
        joined = base + corpus.sentence_terms[other.row]
        gain = coverage(corpus, retrieval.question_terms, joined) - best.coverage
        if gain >= top_gain:
            top, top_gain = other, gain
    return top
