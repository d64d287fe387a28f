"""The extractive reader: picks the sentence(s) that answer, or decides the source cannot.

Each candidate sentence gets one score from three signals: its dense similarity to the
question, the idf-weighted share of the question's terms it holds, and whether it holds an
answer of the kind the question asks for (a number, a day, a name ...). The best sentence
answers when the evidence around it is strong enough; a second sentence joins it when it
holds question terms the first lacks (answers that span two sentences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
MIN_EVIDENCE = 0.4  # score of the best sentence
# An answer to an open question ("what", "how") must not miss most of the question's terms
# unless what it misses is near in meaning (see `unmatched`).
MIN_UNMATCHED = 0.5
MIN_UNMATCHED_CLOSENESS = 0.2
# A second sentence joins when it adds this much coverage and scores this share of the best.
# Both lie inside the range that cited the least noise on the tuning split, with a margin
# each way.
MIN_COVERAGE_GAIN = 0.3
MIN_SECOND_SCORE = 0.8
MAX_QUOTE_WORDS = 25  # a longer sentence is quoted by its answering clauses


@dataclass(frozen=True)
class Reading:
    """The reader's verdict: the spans to quote, best first, or an abstention."""

    spans: list[Span]
    abstained: bool
    reason: str = ""
    confidence: float = 0.0  # the best sentence's score; answers need at least MIN_EVIDENCE


def read(corpus: Corpus, retrieval: Retrieval, kind: str, focus: set[str]) -> Reading:
    """Choose the answering sentence(s) among the retrieval's candidates, or abstain.

    `kind` is the kind of answer wanted; `focus` what it must stand next to (what a "how
    many" question counts, the role a "who is the X" question names)."""
    candidates = retrieval.candidates
    if not candidates or not retrieval.question_terms:
        return Reading([], True, "no evidence")
    wanted = set(retrieval.question_terms)
    typed = {
        c.row: bool(answer_spans(c.sentence.text, kind, wanted, focus))
        or not wants_typed_answer(kind)
        for c in candidates
    }

    def score(c: Candidate) -> float:
        bonus = W_TYPE * typed[c.row] if wants_typed_answer(kind) else 0.0
        return W_DENSE * c.dense + W_COVERAGE * c.coverage + bonus

    ranked = sorted(candidates, key=score, reverse=True)
    best = ranked[0]
    by_row = {c.row: c for c in candidates}
    beside = [by_row[row] for row in _adjacent(corpus, best.row) if row in by_row]
    # A neighbour may supply the answer the best sentence lacks ("..., he said." names the
    # speaker next door), if it shares some of the question's words.
    neighbours = [c for c in beside if c.coverage > 0]
    context = [best, *neighbours]
    closest = max(c.dense for c in candidates)
    if closest < MIN_DENSE and best.coverage < MIN_DENSE:
        return Reading([], True, f"nothing close to the question ({closest:.2f})")
    if not any(typed[c.row] for c in context):
        return Reading([], True, f"no {kind} in the evidence")
    if not wants_typed_answer(kind):
        share, closeness = unmatched(corpus, retrieval, best)
        if share >= MIN_UNMATCHED and closeness < MIN_UNMATCHED_CLOSENESS:
            reason = f"{share:.0%} of the question is missing from the evidence ({closeness:.2f})"
            return Reading([], True, reason)
    evidence = score(best)
    if evidence < MIN_EVIDENCE:
        return Reading([], True, f"too little evidence ({evidence:.2f})", evidence)

    chosen = [best]
    if not typed[best.row]:
        chosen.append(next(c for c in neighbours if typed[c.row]))
    else:
        second = _complement(corpus, retrieval, best, beside, score(best), score)
        if second is not None:
            chosen.append(second)
    chosen.sort(key=lambda c: (c.sentence.doc_id, c.sentence.start))
    quotes = [_quote(corpus, c, kind, wanted, focus) for c in chosen]
    return Reading(quotes, False, confidence=evidence)


def _quote(corpus: Corpus, chosen: Candidate, kind: str, wanted: set, focus: set) -> Span:
    """The part of a chosen sentence to quote: all of a short one; of a long one, the clauses
    from the one closest to the question through the one holding the typed answer, or,
    for an open question, through the clause after it (what a sentence says about its
    subject tends to follow it: "If the U.S. adopts ..., the DPRK will be forced ...")."""
    sentence = chosen.sentence
    parts = [corpus.clauses[row] for row in corpus.sentence_clauses[chosen.row]]
    if len(sentence.text.split()) <= MAX_QUOTE_WORDS or chosen.clause not in parts:
        return sentence
    best = parts.index(chosen.clause)
    keep = {best}
    if wants_typed_answer(kind):
        for start, _end in answer_spans(sentence.text, kind, wanted, focus):
            at = sentence.start + start
            keep |= {index for index, part in enumerate(parts) if part.start <= at < part.end}
    else:
        keep.add(min(best + 1, len(parts) - 1))
    first, last = parts[min(keep)], parts[max(keep)]
    offset = sentence.start
    return Span(
        sentence.doc_id,
        first.start,
        last.end,
        sentence.text[first.start - offset : last.end - offset],
    )


def unmatched(corpus: Corpus, retrieval: Retrieval, candidate: Candidate) -> tuple[float, float]:
    """How much of the question the candidate sentence lacks, and how near it comes anyway.

    Returns the weighted share of the question's terms missing from the sentence (one less
    its coverage), and the cosine between those terms' pooled vectors (read in the question's
    context) and the sentence or its closest clause. A paraphrase misses words but not their
    meaning ("justify" near "legitimate right"); a question about something the text never
    covers ("the population of X", when the text only mentions X) misses both.
    """
    present = set(corpus.sentence_terms[candidate.row])
    missing = [index for index, term in enumerate(retrieval.question_terms) if term not in present]
    if not missing:
        return 0.0, 1.0
    share = 1.0 - candidate.coverage
    pooled = retrieval.term_vectors[missing].mean(axis=0)
    pooled /= max(float(np.linalg.norm(pooled)), 1e-12)
    rows = [corpus.sentence_vectors[candidate.row]]
    rows += [corpus.clause_vectors[clause] for clause in corpus.sentence_clauses[candidate.row]]
    return share, float(np.max(np.asarray(rows) @ pooled))


def _adjacent(corpus: Corpus, row: int) -> list[int]:
    """The sentences just before and after `row` in its document, headings skipped."""
    found = []
    for step in (-1, 1):
        other = row + step
        while other in corpus.headings:
            other += step
        inside = 0 <= other < len(corpus.sentences)
        if inside and corpus.sentences[other].doc_id == corpus.sentences[row].doc_id:
            found.append(other)
    return found


def _complement(corpus, retrieval, best, beside, best_score, score) -> Candidate | None:
    """The neighbouring sentence that adds the most missing question terms, if it adds
    enough: an answer that runs over two sentences runs over consecutive ones."""
    base = corpus.sentence_terms[best.row]
    top, top_gain = None, MIN_COVERAGE_GAIN
    for other in beside:
        if score(other) < MIN_SECOND_SCORE * best_score:
            continue
        joined = base + corpus.sentence_terms[other.row]
        gain = (
            coverage(corpus, retrieval.question_terms, joined, retrieval.lent_terms) - best.coverage
        )
        if gain >= top_gain:
            top, top_gain = other, gain
    return top
