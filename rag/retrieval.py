"""The retriever: dense (Chroma) and lexical (BM25) chunk rankings fused by reciprocal rank,
then every quotable sentence of the best chunks offered to the reader as a self-contained
candidate: its text, clauses, phrases and every score the reader's model reads."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from rag.answer_types import Phrase
from rag.chunking import is_heading
from rag.indexing import DocumentIndex
from rag.lexicon import STOPWORDS, english_words, stem, terms, words
from rag.types import Chunk, Document, Span

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it narrates every index build

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


@dataclass(frozen=True)
class Corpus:
    """Everything retrieval needs in memory: documents, chunks, sentences, clauses, phrases
    and vectors. Built once per index load."""

    documents: dict[str, Document]
    chunks: list[Chunk]
    sentences: list[Span]
    sentence_vectors: np.ndarray  # one unit row per sentence
    clauses: list[Span]  # the parts of sentences that have two or more
    clause_vectors: np.ndarray  # one unit row per clause
    sentence_clauses: list[list[int]]  # clause rows of each sentence; [] for one-clause ones
    sentence_phrases: list[tuple[Phrase, ...]]  # offsets relative to the sentence
    headings: frozenset[int]  # sentence rows that are titles or headings, never quoted
    section: list[int]  # per sentence row, the row of the heading it stands under; -1: none
    title_terms: dict[str, tuple[str, ...]]  # doc_id -> the terms of its file name
    sentence_terms: list[list[str]]
    chunk_sentences: list[list[int]]  # sentence rows of each chunk
    chunk_rows: dict[str, int]  # chunk id -> row in `chunks`
    term_idf: dict[str, float]
    mean_sentence_terms: float
    chunk_bm25: bm25s.BM25
    sentence_bm25: bm25s.BM25
    vocabulary: list[str]  # every distinct lower-case word of the sentences, sorted

    @classmethod
    def build(cls, records: Sequence[DocumentIndex]) -> Corpus:
        """Index in memory what the store saved: every document's chunks, sentences, clauses,
        phrases and vectors, as they were derived once at indexing."""
        documents = {record.doc_id: record.document for record in records}
        chunks = [chunk for record in records for chunk in record.chunks]
        sentences = [sentence for record in records for sentence in record.sentences]
        rows = {sentence.id: at for at, sentence in enumerate(sentences)}
        chunk_sentences = [[rows[s.id] for s in chunk.sentences] for chunk in chunks]
        all_clauses: list[Span] = []
        sentence_clauses = []
        for record in records:
            for parts in record.clauses:
                sentence_clauses.append(
                    list(range(len(all_clauses), len(all_clauses) + len(parts)))
                )
                all_clauses.extend(parts)
        width = max((r.sentence_vectors.shape[1] for r in records if r.sentences), default=0)
        sentence_terms = [terms(sentence.text) for sentence in sentences]
        chunk_bm25 = bm25s.BM25()
        chunk_bm25.index(
            [
                [term for row in members for term in sentence_terms[row]] or [""]
                for members in chunk_sentences
            ]
            or [[""]],
            show_progress=False,
        )
        sentence_bm25 = bm25s.BM25()
        sentence_bm25.index([row or [""] for row in sentence_terms] or [[""]], show_progress=False)
        headings = frozenset(
            row
            for row, sentence in enumerate(sentences)
            if is_heading(sentence, documents[sentence.doc_id])
        )
        return cls(
            documents=documents,
            chunks=chunks,
            sentences=sentences,
            sentence_vectors=_stack([r.sentence_vectors for r in records], width),
            clauses=all_clauses,
            clause_vectors=_stack([r.clause_vectors for r in records], width),
            sentence_clauses=sentence_clauses,
            sentence_phrases=[phrases for record in records for phrases in record.phrases],
            headings=headings,
            section=_sections(sentences, headings),
            title_terms={doc_id: tuple(terms(_title(doc_id))) for doc_id in documents},
            sentence_terms=sentence_terms,
            chunk_sentences=chunk_sentences,
            chunk_rows={chunk.id: row for row, chunk in enumerate(chunks)},
            term_idf=_idf(sentence_terms),
            mean_sentence_terms=float(np.mean([len(t) for t in sentence_terms] or [1.0])),
            chunk_bm25=chunk_bm25,
            sentence_bm25=sentence_bm25,
            vocabulary=sorted({word for sentence in sentences for word in words(sentence.text)}),
        )

    def knows(self, word: str) -> bool:
        """Whether a lower-case word is spelled right: in the corpus in some form, or an
        English word."""
        return word in STOPWORDS or stem(word) in self.term_idf or word in english_words()

    def idf(self, term: str) -> float:
        """How rare `term` is among sentences; a term the corpus lacks is rarest of all."""
        return self.term_idf.get(term, math.log(1 + len(self.sentences)) + 1.0)

    def adjacent(self, row: int) -> list[int]:
        """The sentences just before and after `row` in its document, headings skipped."""
        found = []
        for step in (-1, 1):
            other = row + step
            while other in self.headings:
                other += step
            inside = 0 <= other < len(self.sentences)
            if inside and self.sentences[other].doc_id == self.sentences[row].doc_id:
                found.append(other)
        return found


@dataclass(frozen=True)
class Query:
    """A question (or one part of it) ready for retrieval."""

    asked: str  # the user's words, cleaned
    standalone: str  # with the conversation's references resolved
    part: str  # the part of the standalone question this query searches for
    kind: str  # the kind of answer wanted (rag.question.KINDS)
    terms: tuple[str, ...]
    vector: np.ndarray
    lent_terms: frozenset[str] = frozenset()  # terms a resolved pronoun brought in


@dataclass(frozen=True)
class Candidate:
    """A sentence offered to the reader with everything the reader's models read about it."""

    sentence: Span
    clauses: tuple[Span, ...]  # its clauses, when it has two or more
    phrases: tuple[Phrase, ...]  # its candidate short answers, offsets within the sentence
    terms: tuple[str, ...]
    dense: float  # cosine similarity of sentence and question
    dense_z: float  # the same in standard deviations above the corpus's mean for the question
    clause_dense: float  # the closest clause's cosine (the sentence's when it has one clause)
    best_clause: int  # index into `clauses` of the closest clause; -1 when it has none
    bm25: float  # the sentence's BM25 score for the question's terms
    coverage: float  # idf-weighted share of the question's terms it holds
    chunk_rank: int  # rank of the best fused chunk holding it, 0 first (NOT_RANKED: none)
    dense_rank: int  # its rank by dense score among every sentence of the corpus
    bm25_rank: int  # its rank by BM25 score among every sentence of the corpus
    position: float  # where it stands in its document, 0 (start) to 1 (end)
    opens_paragraph: bool
    neighbour_dense: float  # the closer neighbour's cosine to the question
    neighbour_coverage: float  # the larger neighbour coverage
    context_coverage: float  # coverage of the sentence and its neighbours together
    missing_idf: float  # the rarest question term the sentence lacks (its idf; 0 if none)
    context_missing_idf: float  # the same for the sentence, its neighbours, heading and title
    previous_dense: float  # the cosine of the sentence before it (0 for a document's first)
    context_dense: float  # the cosine of the mean of its own and the previous sentence's vectors
    heading_dense: float  # the cosine of the heading it stands under (0 when none)
    title_coverage: float  # coverage of the question's terms by its heading and file name
    beside: tuple[tuple[Span, tuple[Phrase, ...]], ...] = ()  # the sentences before and after


@dataclass(frozen=True)
class Retrieval:
    """What retrieval hands the reader for one query."""

    query: Query
    chunks: list[Chunk]  # best first
    candidates: list[Candidate]  # in document order


class Retriever:
    """Dense search (a LangChain vector store over the chunk collection), BM25 and fusion."""

    def __init__(self, corpus: Corpus, dense_search: Callable[[list[float], int], list[str]]):
        self.corpus = corpus
        self.dense_search = dense_search  # (query vector, k) -> chunk ids, best first

    def retrieve(self, query: Query, top_k: int) -> Retrieval:
        """The best `top_k` chunks for the query and the candidates inside them."""
        depth = min(len(self.corpus.chunks), top_k * CANDIDATE_FACTOR)
        dense_ids = self.dense_search(query.vector.tolist(), depth)
        rows = rank_chunks(self.corpus, dense_ids, list(query.terms), top_k)
        return Retrieval(
            query=query,
            chunks=[self.corpus.chunks[row] for row in rows],
            candidates=candidates(self.corpus, rows, query),
        )


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


def sentence_ranks(
    corpus: Corpus, query: Query
) -> tuple[dict[int, int], dict[int, int], tuple[float, float]]:
    """The best SENTENCE_DEPTH sentences of the corpus by dense and by BM25 score (row ->
    rank), and the mean and spread of the question's cosine over every sentence."""
    depth = min(SENTENCE_DEPTH, len(corpus.sentences))
    dense = corpus.sentence_vectors @ query.vector
    lexical = (
        corpus.sentence_bm25.get_scores(list(query.terms))
        if query.terms
        else np.zeros(len(corpus.sentences))
    )
    ranks = []
    for scores in (dense, lexical):
        top = np.argpartition(-scores, depth - 1)[:depth] if depth < len(scores) else range(depth)
        ordered = sorted((int(row) for row in top if scores[row] > 0), key=lambda row: -scores[row])
        ranks.append({row: rank for rank, row in enumerate(ordered)})
    return ranks[0], ranks[1], (float(dense.mean()), max(float(dense.std()), 1e-3))


def candidates(corpus: Corpus, chunk_rows: Sequence[int], query: Query) -> list[Candidate]:
    """Every quotable sentence (not a heading) of the given chunks, and the best sentences by
    dense and by BM25 score on their own, scored, in document order."""
    chunk_rank: dict[int, int] = {}
    for rank, chunk in enumerate(chunk_rows):
        for row in corpus.chunk_sentences[chunk]:
            chunk_rank.setdefault(row, rank)
    dense_rank, bm25_rank, (dense_mean, dense_spread) = sentence_ranks(corpus, query)
    rows = sorted((set(chunk_rank) | set(dense_rank) | set(bm25_rank)) - corpus.headings)
    if not rows:
        return []
    neighbours = {row: corpus.adjacent(row) for row in rows}
    scored = sorted({*rows, *(other for row in rows for other in neighbours[row])})
    dense = dict(
        zip(scored, (corpus.sentence_vectors[scored] @ query.vector).tolist(), strict=True)
    )
    cover = {
        row: coverage(corpus, query.terms, corpus.sentence_terms[row], query.lent_terms)
        for row in scored
    }
    found = []
    for row in rows:
        sentence = corpus.sentences[row]
        parts = corpus.sentence_clauses[row]
        clause_scores = (corpus.clause_vectors[parts] @ query.vector).tolist() if parts else []
        best = int(np.argmax(clause_scores)) if parts else -1
        text = corpus.documents[sentence.doc_id].text
        beside = neighbours[row]
        own = set(corpus.sentence_terms[row])
        heading = corpus.section[row]
        framing = set(corpus.title_terms[sentence.doc_id])
        if heading >= 0:
            framing |= set(corpus.sentence_terms[heading])
        context = own.union(framing, *(corpus.sentence_terms[other] for other in beside))
        previous = [other for other in beside if other < row]
        found.append(
            Candidate(
                sentence=sentence,
                clauses=tuple(corpus.clauses[part] for part in parts),
                phrases=corpus.sentence_phrases[row],
                terms=tuple(corpus.sentence_terms[row]),
                dense=dense[row],
                dense_z=(dense[row] - dense_mean) / dense_spread,
                clause_dense=max([dense[row], *clause_scores]),
                best_clause=best,
                bm25=bm25(corpus, query.terms, corpus.sentence_terms[row]),
                coverage=cover[row],
                chunk_rank=chunk_rank.get(row, NOT_RANKED),
                dense_rank=dense_rank.get(row, NOT_RANKED),
                bm25_rank=bm25_rank.get(row, NOT_RANKED),
                position=sentence.start / max(len(text), 1),
                opens_paragraph=sentence.start == 0 or text[: sentence.start].endswith("\n"),
                neighbour_dense=max((dense[other] for other in beside), default=0.0),
                neighbour_coverage=max((cover[other] for other in beside), default=0.0),
                context_coverage=coverage(corpus, query.terms, list(context), query.lent_terms),
                missing_idf=_rarest_missing(corpus, query, own),
                context_missing_idf=_rarest_missing(corpus, query, context),
                previous_dense=dense[previous[0]] if previous else 0.0,
                context_dense=_mean_cosine(corpus, [row, *previous], query.vector),
                heading_dense=(
                    float(corpus.sentence_vectors[heading] @ query.vector) if heading >= 0 else 0.0
                ),
                title_coverage=coverage(corpus, query.terms, list(framing), query.lent_terms),
                beside=tuple(
                    (corpus.sentences[other], corpus.sentence_phrases[other]) for other in beside
                ),
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
    norm = BM25_K1 * (1 - BM25_B + BM25_B * len(passage_terms) / corpus.mean_sentence_terms)
    return sum(
        corpus.idf(term) * counts[term] * (BM25_K1 + 1) / (counts[term] + norm)
        for term in set(question_terms)
        if term in counts
    )


def _mean_cosine(corpus: Corpus, rows: list[int], vector: np.ndarray) -> float:
    """The cosine of the question with the normalised mean of some sentences' vectors."""
    mean = corpus.sentence_vectors[rows].mean(axis=0)
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


def _sections(sentences: Sequence[Span], headings: frozenset[int]) -> list[int]:
    """For each sentence row, the row of the latest heading before it in its document."""
    found, current, doc_id = [], -1, None
    for row, sentence in enumerate(sentences):
        if sentence.doc_id != doc_id:
            current, doc_id = -1, sentence.doc_id
        found.append(current)
        if row in headings:
            current = row
    return found


def _title(doc_id: str) -> str:
    """A document's name as words: "reports/heat-pump_manual.txt" -> "heat pump manual"."""
    stem = doc_id.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.replace("-", " ").replace("_", " ")


def _idf(sentence_terms: list[list[str]]) -> dict[str, float]:
    frequency: dict[str, int] = {}
    for row_terms in sentence_terms:
        for term in set(row_terms):
            frequency[term] = frequency.get(term, 0) + 1
    count = len(sentence_terms)
    return {term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}


def _stack(blocks: list[np.ndarray], width: int) -> np.ndarray:
    """Rows of every block, one array (an empty one of `width` columns when there are none)."""
    blocks = [block for block in blocks if len(block)]
    if not blocks:
        return np.zeros((0, width), dtype=np.float32)
    return np.concatenate(blocks).astype(np.float32, copy=False)
