"""The serving corpus: one index generation as retrieval sees it. Its tables (rag.tables)
are held in memory; the rows they index (texts, vectors, phrases) are fetched by id, from the
index (rag.store) or from records in memory, for the few sentences a question needs."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.indexing import DocumentIndex
from rag.lexicon import STOPWORDS, english_words, stem
from rag.tables import Tables, build_tables
from rag.types import Chunk, Document, Phrase, Span

DOCUMENTS_KEPT = 32  # documents a serving process keeps after fetching them


@dataclass(frozen=True)
class SentenceRow:
    """One sentence as the index keeps it: its span, vector and phrases."""

    span: Span
    vector: np.ndarray
    phrases: tuple[Phrase, ...]


class Rows(Protocol):
    """Where a corpus fetches what its tables do not hold, by id: the served index
    (rag.store) or records in memory (`MemoryRows`)."""

    def sentences(self, ids: Sequence[str]) -> dict[str, SentenceRow]:
        """The sentences with these ids."""

    def clauses(self, ids: Sequence[str]) -> dict[str, tuple[Span, np.ndarray]]:
        """The clauses with these ids, with their vectors."""

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The chunks with these ids."""

    def documents(self, ids: Sequence[str]) -> dict[str, Document]:
        """The documents with these ids."""

    def nearest_sentences(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ids and cosines of the `k` sentences closest to `vector`, best first."""

    def nearest_chunks(self, vector: np.ndarray, k: int) -> list[str]:
        """The ids of the `k` chunks closest to `vector`, best first."""


class MemoryRows:
    """`Rows` over records held in memory (for a corpus built without an index)."""

    def __init__(self, records: Sequence[DocumentIndex]) -> None:
        self._documents = {record.doc_id: record.document for record in records}
        self._sentences: dict[str, SentenceRow] = {}
        self._clauses: dict[str, tuple[Span, np.ndarray]] = {}
        self._chunks = {chunk.id: chunk for record in records for chunk in record.chunks}
        for record in records:
            for sentence, vector, phrases in zip(
                record.sentences, record.sentence_vectors, record.phrases, strict=True
            ):
                self._sentences[sentence.id] = SentenceRow(sentence, vector, phrases)
            parts = [part for group in record.clauses for part in group]
            for part, vector in zip(parts, record.clause_vectors, strict=True):
                self._clauses[part.id] = (part, vector)
        self._sentence_ids = list(self._sentences)
        self._sentence_matrix = _stack([row.vector[None] for row in self._sentences.values()])
        self._chunk_ids = list(self._chunks)
        self._chunk_matrix = _stack([record.chunk_vectors for record in records])

    def sentences(self, ids: Sequence[str]) -> dict[str, SentenceRow]:
        return {id_: self._sentences[id_] for id_ in ids}

    def clauses(self, ids: Sequence[str]) -> dict[str, tuple[Span, np.ndarray]]:
        return {id_: self._clauses[id_] for id_ in ids}

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {id_: self._chunks[id_] for id_ in ids}

    def documents(self, ids: Sequence[str]) -> dict[str, Document]:
        return {id_: self._documents[id_] for id_ in ids}

    def nearest_sentences(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        scores = self._sentence_matrix @ vector
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self._sentence_ids[row], float(scores[row])) for row in best]

    def nearest_chunks(self, vector: np.ndarray, k: int) -> list[str]:
        scores = self._chunk_matrix @ vector
        return [self._chunk_ids[row] for row in np.argsort(-scores, kind="stable")[:k]]


class LazyDocuments(Mapping[str, Document]):
    """The corpus's documents by id, each fetched when first asked for and a few kept."""

    def __init__(
        self, doc_ids: Sequence[str], rows: Rows, characters: int, kept: int = DOCUMENTS_KEPT
    ) -> None:
        self.characters = characters  # the documents' length, all together
        self._ids = tuple(doc_ids)
        self._known = frozenset(doc_ids)
        self._rows = rows
        self._kept = kept
        self._cache: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self._known:
            raise KeyError(doc_id)
        with self._lock:
            if doc_id in self._cache:
                self._cache.move_to_end(doc_id)
                return self._cache[doc_id]
        document = self._rows.documents([doc_id])[doc_id]
        with self._lock:
            self._cache[doc_id] = document
            while len(self._cache) > self._kept:
                self._cache.popitem(last=False)
        return document

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._known


@dataclass(frozen=True)
class Corpus:
    """One index generation as retrieval sees it: the serving tables (rag.tables), and the
    rows (texts, vectors, phrases) fetched by id for the sentences a question needs."""

    tables: Tables
    rows: Rows
    documents: Mapping[str, Document]  # by id, fetched on first use

    @classmethod
    def open(cls, tables: Tables, rows: Rows) -> Corpus:
        """The corpus of a generation whose tables and rows are these."""
        return cls(tables, rows, LazyDocuments(tables.doc_ids, rows, int(tables.doc_chars.sum())))

    @classmethod
    def build(cls, records: Sequence[DocumentIndex]) -> Corpus:
        """A corpus held in memory, from records (no index)."""
        return cls.open(build_tables(records), MemoryRows(records))

    @property
    def vocabulary(self) -> Sequence[str]:
        """Every distinct lower-case word of the sentences, sorted."""
        return self.tables.vocabulary

    def knows(self, word: str) -> bool:
        """Whether a lower-case word is spelled right: in the corpus in some form, or an
        English word."""
        return word in STOPWORDS or stem(word) in self.tables.term_idf or word in english_words()

    def idf(self, term: str) -> float:
        """How rare `term` is among sentences; a term the corpus lacks is rarest of all."""
        idf = self.tables.term_idf.get(term)
        return idf if idf is not None else math.log(1 + self.tables.sentence_count) + 1.0

    def adjacent(self, row: int) -> list[int]:
        """The sentences just before and after `row` in its document, headings skipped."""
        tables, found = self.tables, []
        for step in (-1, 1):
            other = row + step
            while 0 <= other < tables.sentence_count and tables.heading[other]:
                other += step
            inside = 0 <= other < tables.sentence_count
            if inside and tables.sentence_doc[other] == tables.sentence_doc[row]:
                found.append(other)
        return found

    def sentence_rows(self, rows: Sequence[int]) -> dict[int, SentenceRow]:
        """The sentences at these rows, fetched by id."""
        ids = {row: self.tables.sentence_id(row) for row in rows}
        fetched = self.rows.sentences(list(ids.values()))
        return {row: fetched[id_] for row, id_ in ids.items()}

    def chunks(self, rows: Sequence[int]) -> list[Chunk]:
        """The chunks at these rows, in that order."""
        ids = [self.tables.chunk_id(row) for row in rows]
        fetched = self.rows.chunks(ids)
        return [fetched[id_] for id_ in ids]


def _stack(blocks: list[np.ndarray]) -> np.ndarray:
    """Rows of every block, one array (an empty one when there are none)."""
    blocks = [block for block in blocks if len(block)]
    if not blocks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(blocks).astype(np.float32, copy=False)
