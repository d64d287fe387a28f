"""Hybrid retrieval: dense (Chroma) and lexical (BM25) chunk rankings fused, then the
sentences inside the best chunks, and their clauses, scored for the reader."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from rag.chunking import clauses, is_heading
from rag.text import terms
from rag.types import Chunk, Document, Span

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it narrates every index build

RRF_K = 60  # reciprocal-rank-fusion damping, the value of Cormack et al.
CANDIDATE_FACTOR = 3  # each ranking offers this many times top_k chunks to the fusion
# How far a clause closer to the question than its whole sentence lifts the sentence's
# dense score (0: not at all; 1: to the clause's). The middle of the best range on the
# eval suite's tuning split.
CLAUSE_WEIGHT = 0.75
# How much a term a follow-up borrowed from the conversation ("he" -> "Ned Price") counts
# towards coverage, against the question's own words.
LENT_WEIGHT = 0.5


@dataclass(frozen=True)
class Corpus:
    """Everything retrieval needs in memory: documents, chunks, sentences, clauses and their
    vectors."""

    documents: dict[str, Document]
    chunks: list[Chunk]
    sentences: list[Span]
    sentence_vectors: np.ndarray  # one unit row per sentence
    clauses: list[Span]  # the parts of sentences that have two or more
    clause_vectors: np.ndarray  # one unit row per clause
    sentence_clauses: list[list[int]]  # clause rows of each sentence; [] for one-clause ones
    headings: frozenset[int]  # sentence rows that are titles or headings, never quoted
    sentence_terms: list[list[str]]
    chunk_sentences: list[list[int]]  # sentence rows of each chunk
    chunk_rows: dict[str, int]  # chunk id -> row in `chunks`
    term_idf: dict[str, float]
    chunk_bm25: bm25s.BM25

    @classmethod
    def build(cls, documents: Sequence[Document], chunks: list[Chunk], vectors_of) -> Corpus:
        """Index `chunks` in memory; `vectors_of(kind, spans)` returns the stored vectors of
        sentences (kind "sentences") or clauses ("clauses")."""
        rows: dict[str, int] = {}
        sentences: list[Span] = []
        chunk_sentences = []
        for chunk in chunks:
            members = []
            for sentence in chunk.sentences:
                if sentence.id not in rows:
                    rows[sentence.id] = len(sentences)
                    sentences.append(sentence)
                members.append(rows[sentence.id])
            chunk_sentences.append(members)
        texts = {document.doc_id: document.text for document in documents}
        sentence_terms = [terms(sentence.text) for sentence in sentences]
        all_clauses: list[Span] = []
        sentence_clauses = []
        for sentence in sentences:
            parts = clauses(sentence)
            sentence_clauses.append(list(range(len(all_clauses), len(all_clauses) + len(parts))))
            all_clauses.extend(parts)
        chunk_bm25 = bm25s.BM25()
        chunk_bm25.index(
            [
                [term for row in members for term in sentence_terms[row]] or [""]
                for members in chunk_sentences
            ],
            show_progress=False,
        )
        return cls(
            documents={document.doc_id: document for document in documents},
            chunks=chunks,
            sentences=sentences,
            sentence_vectors=vectors_of("sentences", sentences),
            clauses=all_clauses,
            clause_vectors=vectors_of("clauses", all_clauses),
            sentence_clauses=sentence_clauses,
            headings=frozenset(
                row
                for row, sentence in enumerate(sentences)
                if is_heading(sentence, texts[sentence.doc_id])
            ),
            sentence_terms=sentence_terms,
            chunk_sentences=chunk_sentences,
            chunk_rows={chunk.id: row for row, chunk in enumerate(chunks)},
            term_idf=_idf(sentence_terms),
            chunk_bm25=chunk_bm25,
        )

    def idf(self, term: str) -> float:
        """How rare `term` is among sentences; a term the corpus lacks is rarest of all."""
        return self.term_idf.get(term, math.log(1 + len(self.sentences)) + 1.0)


@dataclass(frozen=True)
class Candidate:
    """A sentence offered to the reader, with its evidence scores."""

    row: int  # in corpus.sentences
    sentence: Span
    dense: float  # cosine similarity to the question, lifted by a closer clause
    clause: Span  # the clause closest to the question; the sentence if it has one clause
    coverage: float  # idf-weighted share of the question's terms it contains


@dataclass(frozen=True)
class Retrieval:
    """What retrieval hands the reader."""

    chunks: list[Chunk]  # best first
    candidates: list[Candidate]  # sentences of those chunks, in document order
    question_terms: list[str]
    term_vectors: np.ndarray  # each question term's vector in the question's context
    lent_terms: frozenset[str] = frozenset()  # question terms the conversation supplied


def rank_chunks(
    corpus: Corpus, dense_ids: Sequence[str], question_terms: list[str], top_k: int
) -> list[int]:
    """Fuse the dense ranking (chunk ids, best first) with BM25 by reciprocal rank."""
    fused: dict[int, float] = {}
    for rank, chunk_id in enumerate(dense_ids):
        row = corpus.chunk_rows.get(chunk_id)
        if row is not None:
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    if question_terms:
        scores = corpus.chunk_bm25.get_scores(question_terms)
        depth = min(len(scores), top_k * CANDIDATE_FACTOR)
        best = (
            np.argpartition(-scores, depth - 1)[:depth]
            if depth < len(scores)
            else range(len(scores))
        )
        lexical = sorted((row for row in best if scores[row] > 0), key=lambda row: -scores[row])
        for rank, row in enumerate(lexical):
            fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(fused, key=lambda row: -fused[row])[:top_k]


def candidates(
    corpus: Corpus,
    chunk_rows: Sequence[int],
    question_vector: np.ndarray,
    question_terms: list[str],
    lent_terms: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Score every sentence of the given chunks that can be quoted (not a heading)."""
    rows = sorted(
        {row for chunk in chunk_rows for row in corpus.chunk_sentences[chunk]} - corpus.headings
    )
    if not rows:
        return []
    dense = corpus.sentence_vectors[rows] @ question_vector
    clause_rows = [clause for row in rows for clause in corpus.sentence_clauses[row]]
    clause_dense: dict[int, float] = {}
    if clause_rows:
        scores = corpus.clause_vectors[clause_rows] @ question_vector
        clause_dense = dict(zip(clause_rows, scores.tolist(), strict=True))
    found = []
    for row, score in zip(rows, dense, strict=True):
        sentence = corpus.sentences[row]
        best_clause, best_score = sentence, float(score)
        for clause in corpus.sentence_clauses[row]:
            if clause_dense[clause] > best_score:
                best_clause, best_score = corpus.clauses[clause], clause_dense[clause]
        found.append(
            Candidate(
                row=row,
                sentence=sentence,
                dense=float(score) + CLAUSE_WEIGHT * (best_score - float(score)),
                clause=best_clause,
                coverage=coverage(corpus, question_terms, corpus.sentence_terms[row], lent_terms),
            )
        )
    return found


def coverage(
    corpus: Corpus,
    question_terms: list[str],
    passage_terms: list[str],
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


def _idf(sentence_terms: list[list[str]]) -> dict[str, float]:
    frequency: dict[str, int] = {}
    for row_terms in sentence_terms:
        for term in set(row_terms):
            frequency[term] = frequency.get(term, 0) + 1
    count = len(sentence_terms)
    return {term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}
