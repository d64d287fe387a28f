"""The retriever: dense (Chroma) and lexical (BM25) chunk rankings fused by reciprocal rank,
then every quotable sentence of the best chunks offered to the reader as a self-contained
candidate: its text, clauses, phrases and every score the reader's model reads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.corpus import Corpus
from rag.lexicon import terms
from rag.types import Candidate, Query, Retrieval

RRF_K = 60  # reciprocal-rank-fusion damping, the value of Cormack et al.
CANDIDATE_FACTOR = 3  # each ranking offers this many times top_k chunks to the fusion
# Sentences that rank this high on their own, by dense or by BM25 score over every sentence,
# join the candidates even when their chunk did not make the top_k.
SENTENCE_DEPTH = 8
NOT_RANKED = 99  # the rank recorded for a sentence outside a ranking's top
# How much a term a follow-up borrowed from the conversation ("he" -> "Ned Price") counts
# towards coverage, against the question's own words.
LENT_WEIGHT = 0.5
BM25_K1, BM25_B = 1.5, 0.75  # the usual BM25 constants, for scoring single sentences


class Retriever:
    """Dense search (the index's vector search over chunks and sentences), BM25 and fusion."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus

    def retrieve(self, query: Query, top_k: int) -> Retrieval:
        """The best `top_k` chunks for the query and the candidates inside them."""
        depth = min(self.corpus.tables.chunk_count, top_k * CANDIDATE_FACTOR)
        dense_ids = self.corpus.rows.nearest_chunks(query.vector, depth) if depth else []
        rows = rank_chunks(self.corpus, dense_ids, list(query.terms), top_k)
        return Retrieval(
            query=query,
            chunks=self.corpus.chunks(rows),
            candidates=candidates(self.corpus, rows, query),
        )


def rank_chunks(
    corpus: Corpus, dense_ids: Sequence[str], question_terms: list[str], top_k: int
) -> list[int]:
    """Fuse the dense ranking (chunk ids, best first) with BM25 by reciprocal rank."""
    fused: dict[int, float] = {}
    for rank, chunk_id in enumerate(dense_ids):
        row = corpus.tables.chunk_row(chunk_id)
        if row is not None:
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    if question_terms and corpus.tables.chunk_count:
        scores = corpus.tables.chunk_bm25.get_scores(question_terms)
        for rank, row in enumerate(_best(scores, top_k * CANDIDATE_FACTOR)):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(fused, key=lambda row: -fused[row])[:top_k]


def sentence_ranks(corpus: Corpus, query: Query) -> tuple[dict[int, int], dict[int, int]]:
    """The best SENTENCE_DEPTH sentences of the corpus by dense score (the index's vector
    search) and by BM25 score (row -> rank)."""
    tables = corpus.tables
    depth = min(SENTENCE_DEPTH, tables.sentence_count)
    dense: dict[int, int] = {}
    if depth:
        for sentence_id, score in corpus.rows.nearest_sentences(query.vector, depth):
            row = tables.sentence_row(sentence_id)
            if row is not None and score > 0:
                dense[row] = len(dense)
    lexical: dict[int, int] = {}
    if query.terms and depth:
        scores = tables.sentence_bm25.get_scores(list(query.terms))
        lexical = {row: rank for rank, row in enumerate(_best(scores, depth))}
    return dense, lexical


def _best(scores: np.ndarray, depth: int) -> list[int]:
    """The rows of the `depth` highest positive scores, best first."""
    depth = min(depth, len(scores))
    if not depth:
        return []
    top = np.argpartition(-scores, depth - 1)[:depth] if depth < len(scores) else range(depth)
    return sorted((int(row) for row in top if scores[row] > 0), key=lambda row: -scores[row])


def candidates(corpus: Corpus, chunk_rows: Sequence[int], query: Query) -> list[Candidate]:
    """Every quotable sentence (not a heading) of the given chunks, and the best sentences by
    dense and by BM25 score on their own, scored, in document order."""
    tables = corpus.tables
    chunk_rank: dict[int, int] = {}
    for rank, chunk in enumerate(chunk_rows):
        for row in tables.chunk_sentences(chunk):
            chunk_rank.setdefault(row, rank)
    dense_rank, bm25_rank = sentence_ranks(corpus, query)
    rows = sorted(
        row for row in set(chunk_rank) | set(dense_rank) | set(bm25_rank) if not tables.heading[row]
    )
    if not rows:
        return []
    neighbours = {row: corpus.adjacent(row) for row in rows}
    section = {row: int(tables.section[row]) for row in rows}
    scored = sorted({*rows, *(other for row in rows for other in neighbours[row])})
    fetched = corpus.sentence_rows(sorted({*scored, *(h for h in section.values() if h >= 0)}))
    clause_ids = {row: tables.clause_ids(row) for row in rows}
    clauses = corpus.rows.clauses([id_ for ids in clause_ids.values() for id_ in ids])
    sentence_terms = {row: terms(got.span.text) for row, got in fetched.items()}
    dense = {row: float(fetched[row].vector @ query.vector) for row in scored}
    cover = {
        row: coverage(corpus, query.terms, sentence_terms[row], query.lent_terms) for row in scored
    }
    found = []
    for row in rows:
        sentence = fetched[row].span
        parts = [clauses[id_] for id_ in clause_ids[row]]
        clause_scores = [float(vector @ query.vector) for _part, vector in parts]
        best = int(np.argmax(clause_scores)) if parts else -1
        beside = neighbours[row]
        own = set(sentence_terms[row])
        heading = section[row]
        framing = set(terms(_title(sentence.doc_id)))
        if heading >= 0:
            framing |= set(sentence_terms[heading])
        context = own.union(framing, *(sentence_terms[other] for other in beside))
        previous = [other for other in beside if other < row]
        found.append(
            Candidate(
                sentence=sentence,
                clauses=tuple(part for part, _vector in parts),
                phrases=fetched[row].phrases,
                terms=tuple(sentence_terms[row]),
                dense=dense[row],
                clause_dense=max([dense[row], *clause_scores]),
                best_clause=best,
                bm25=bm25(corpus, query.terms, sentence_terms[row]),
                coverage=cover[row],
                chunk_rank=chunk_rank.get(row, NOT_RANKED),
                dense_rank=dense_rank.get(row, NOT_RANKED),
                bm25_rank=bm25_rank.get(row, NOT_RANKED),
                neighbour_dense=max((dense[other] for other in beside), default=0.0),
                neighbour_coverage=max((cover[other] for other in beside), default=0.0),
                context_coverage=coverage(corpus, query.terms, list(context), query.lent_terms),
                missing_idf=_rarest_missing(corpus, query, own),
                context_missing_idf=_rarest_missing(corpus, query, context),
                context_dense=_mean_cosine(
                    [fetched[other].vector for other in [row, *previous]], query.vector
                ),
                beside=tuple((fetched[other].span, fetched[other].phrases) for other in beside),
                heading=fetched[heading].span.text if heading >= 0 else "",
            )
        )
    return found


def coverage(
    corpus: Corpus,
    question_terms: Sequence[str],
    passage_terms: Sequence[str],
    lent_terms: frozenset[str] = frozenset(),
) -> float:
    """The idf-weighted share of the question's distinct terms found in a passage; a term a
    follow-up borrowed from the conversation weighs LENT_WEIGHT of its idf."""
    weights = {
        term: corpus.idf(term) * (LENT_WEIGHT if term in lent_terms else 1.0)
        for term in set(question_terms)
    }
    total = sum(weights.values())
    if not total:
        return 0.0
    present = set(passage_terms)
    return sum(weight for term, weight in weights.items() if term in present) / total


def bm25(corpus: Corpus, question_terms: Sequence[str], passage_terms: Sequence[str]) -> float:
    """Okapi BM25 of one passage for the question's terms, with the corpus's sentence idf."""
    counts: dict[str, int] = {}
    for term in passage_terms:
        counts[term] = counts.get(term, 0) + 1
    mean_terms = corpus.tables.mean_sentence_terms
    norm = BM25_K1 * (1 - BM25_B + BM25_B * len(passage_terms) / mean_terms)
    return sum(
        corpus.idf(term) * counts[term] * (BM25_K1 + 1) / (counts[term] + norm)
        for term in set(question_terms)
        if term in counts
    )


def _mean_cosine(vectors: Sequence[np.ndarray], vector: np.ndarray) -> float:
    """The cosine of the question with the normalised mean of some sentences' vectors."""
    mean = np.mean(vectors, axis=0)
    return float(mean @ vector) / max(float(np.linalg.norm(mean)), 1e-12)


def _rarest_missing(corpus: Corpus, query: Query, present: set[str]) -> float:
    """The idf of the rarest of the question's own terms missing from `present` (0 if none):
    a rare word the passage lacks is what an unanswerable question tends to hinge on."""
    return max(
        (
            corpus.idf(term)
            for term in query.terms
            if term not in present and term not in query.lent_terms
        ),
        default=0.0,
    )


def _title(doc_id: str) -> str:
    """A document's name as words: "reports/heat-pump_manual.txt" -> "heat pump manual"."""
    stem = doc_id.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.replace("-", " ").replace("_", " ")
