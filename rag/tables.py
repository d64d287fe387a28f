"""The serving tables of one index generation: what retrieval needs about every sentence and
chunk without holding their text or vectors.

Derived once from the records when a generation is written, saved beside the index as NumPy
files and bm25s indexes, and memory-mapped by every process that serves the generation. Rows
are sentences in (document, start) order; texts, vectors, clauses and phrases stay in the
index and are fetched by id for the few sentences a question needs (rag.retrieval).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from rag.chunking import is_heading
from rag.indexing import DocumentIndex
from rag.lexicon import terms, words
from rag.types import span_id, span_place

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it narrates every index build

_ARRAYS = (
    "doc_chars",
    "sentence_doc",
    "sentence_start",
    "sentence_end",
    "heading",
    "section",
    "position",
    "opens_paragraph",
    "clause_ptr",
    "clause_start",
    "clause_end",
    "chunk_doc",
    "chunk_start",
    "chunk_end",
    "chunk_ptr",
    "chunk_members",
    "dense_mean",
    "dense_moment",
)
_FORMAT = "docqa-tables-2"


@dataclass(frozen=True)
class Tables:
    """Per-generation tables. Sentence rows are in (document, start) order; `*_ptr` arrays
    are CSR offsets (row r's items are ptr[r]:ptr[r+1])."""

    doc_ids: tuple[str, ...]  # sorted
    doc_chars: np.ndarray  # int64: each document's length in characters
    sentence_doc: np.ndarray  # int32: the document of each sentence row
    sentence_start: np.ndarray  # int64
    sentence_end: np.ndarray  # int64
    heading: np.ndarray  # bool: a title or heading, never quoted
    section: np.ndarray  # int32: the row of the heading a sentence stands under; -1: none
    position: np.ndarray  # float32: where the sentence starts in its document, 0 to 1
    opens_paragraph: np.ndarray  # bool
    clause_ptr: np.ndarray  # int64, per sentence row: its clauses (when it has two or more)
    clause_start: np.ndarray  # int64
    clause_end: np.ndarray  # int64
    chunk_doc: np.ndarray  # int32
    chunk_start: np.ndarray  # int64
    chunk_end: np.ndarray  # int64
    chunk_ptr: np.ndarray  # int64, per chunk row: its sentence rows in chunk_members
    chunk_members: np.ndarray  # int32
    dense_mean: np.ndarray  # float32: the mean sentence vector
    dense_moment: np.ndarray  # float32: the mean of v vᵀ over sentence vectors
    term_idf: dict[str, float]
    mean_sentence_terms: float
    vocabulary: tuple[str, ...]  # every distinct lower-case word of the sentences, sorted
    chunk_bm25: bm25s.BM25
    sentence_bm25: bm25s.BM25

    @property
    def sentence_count(self) -> int:
        """How many sentences the generation holds."""
        return len(self.sentence_doc)

    @property
    def chunk_count(self) -> int:
        """How many chunks the generation holds."""
        return len(self.chunk_doc)

    def sentence_id(self, row: int) -> str:
        """The id its row has in the index (Span.id)."""
        doc = self.doc_ids[self.sentence_doc[row]]
        return span_id(doc, self.sentence_start[row], self.sentence_end[row])

    def chunk_id(self, row: int) -> str:
        """The id a chunk row has in the index (Chunk.id)."""
        doc = self.doc_ids[self.chunk_doc[row]]
        return span_id(doc, self.chunk_start[row], self.chunk_end[row])

    def clause_ids(self, row: int) -> list[str]:
        """The ids of a sentence row's clauses ([] when it has one)."""
        doc = self.doc_ids[self.sentence_doc[row]]
        parts = range(int(self.clause_ptr[row]), int(self.clause_ptr[row + 1]))
        return [span_id(doc, self.clause_start[at], self.clause_end[at]) for at in parts]

    def chunk_sentences(self, row: int) -> list[int]:
        """The sentence rows of a chunk row."""
        return self.chunk_members[self.chunk_ptr[row] : self.chunk_ptr[row + 1]].tolist()

    def sentence_row(self, identifier: str) -> int | None:
        """The row of the sentence with this id (None when the generation has none)."""
        return _row(identifier, self.doc_ids, self.sentence_doc, self.sentence_start)

    def chunk_row(self, identifier: str) -> int | None:
        """The row of the chunk with this id (None when the generation has none)."""
        return _row(identifier, self.doc_ids, self.chunk_doc, self.chunk_start)

    def dense_spread(self, vector: np.ndarray) -> tuple[float, float]:
        """The mean and standard deviation of `vector`'s cosine over every sentence, from the
        two moments (exact: the mean of q·v is q·mean, of (q·v)² is qᵀ M q)."""
        if not self.sentence_count:
            return 0.0, 1e-3
        query = vector.astype(np.float64)
        mean = float(query @ self.dense_mean.astype(np.float64))
        square = float(query @ self.dense_moment.astype(np.float64) @ query)
        return mean, max(math.sqrt(max(square - mean * mean, 0.0)), 1e-3)

    def save(self, folder: Path) -> None:
        """Write the tables to `folder` (made whole in a temporary folder, then renamed, so a
        reader never meets half of them)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            for name in _ARRAYS:
                np.save(staging / f"{name}.npy", getattr(self, name), allow_pickle=False)
            (staging / "tables.json").write_text(
                json.dumps(
                    {
                        "format": _FORMAT,
                        "doc_ids": self.doc_ids,
                        "term_idf": self.term_idf,
                        "mean_sentence_terms": self.mean_sentence_terms,
                        "vocabulary": self.vocabulary,
                    }
                ),
                encoding="utf-8",
            )
            self.chunk_bm25.save(staging / "chunk_bm25", show_progress=False)
            self.sentence_bm25.save(staging / "sentence_bm25", show_progress=False)
            if folder.exists():  # another process saved the same generation's tables first
                shutil.rmtree(staging)
            else:
                os.replace(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @classmethod
    def load(cls, folder: Path) -> Tables:
        """The tables saved in `folder`, arrays and BM25 memory-mapped; ValueError when they
        are missing, of another format or incomplete."""
        try:
            meta = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"tables of format {meta.get('format')!r}")
            arrays = {
                name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                for name in _ARRAYS
            }
            bm25 = {
                name: bm25s.BM25.load(folder / name, mmap=True, show_progress=False)
                for name in ("chunk_bm25", "sentence_bm25")
            }
        except (OSError, KeyError) as error:
            raise ValueError(f"the tables at {folder} cannot be read ({error})") from error
        return cls(
            doc_ids=tuple(meta["doc_ids"]),
            term_idf=meta["term_idf"],
            mean_sentence_terms=float(meta["mean_sentence_terms"]),
            vocabulary=tuple(meta["vocabulary"]),
            **arrays,
            **bm25,
        )


def build_tables(records: Sequence[DocumentIndex]) -> Tables:
    """The tables of a generation holding `records` (sorted by doc_id, as the store keeps
    them)."""
    records = sorted(records, key=lambda record: record.doc_id)
    doc_ids = tuple(record.doc_id for record in records)
    sentence_doc, starts, ends, heading, position, opens = [], [], [], [], [], []
    clause_ptr, clause_start, clause_end = [0], [], []
    chunk_doc, chunk_start, chunk_end, chunk_ptr, members = [], [], [], [0], []
    sentence_terms: list[list[str]] = []
    vocabulary: set[str] = set()
    for index, record in enumerate(records):
        document, text = record.document, record.document.text
        first = len(starts)
        row_of = {sentence.start: first + at for at, sentence in enumerate(record.sentences)}
        for sentence, parts in zip(record.sentences, record.clauses, strict=True):
            sentence_doc.append(index)
            starts.append(sentence.start)
            ends.append(sentence.end)
            heading.append(is_heading(sentence, document))
            position.append(sentence.start / max(len(text), 1))
            opens.append(sentence.start == 0 or text[: sentence.start].endswith("\n"))
            clause_start += [part.start for part in parts]
            clause_end += [part.end for part in parts]
            clause_ptr.append(len(clause_start))
            sentence_terms.append(terms(sentence.text))
            vocabulary.update(words(sentence.text))
        for chunk in record.chunks:
            chunk_doc.append(index)
            chunk_start.append(chunk.start)
            chunk_end.append(chunk.end)
            members += [row_of[sentence.start] for sentence in chunk.sentences]
            chunk_ptr.append(len(members))
    vectors = [r.sentence_vectors for r in records if len(r.sentence_vectors)]
    width = max((r.sentence_vectors.shape[1] for r in records), default=0)
    matrix = np.concatenate(vectors).astype(np.float64) if vectors else np.zeros((0, width))
    count = max(len(matrix), 1)
    chunk_bm25 = bm25s.BM25()
    chunk_bm25.index(
        [
            [
                term
                for row in members[chunk_ptr[c] : chunk_ptr[c + 1]]
                for term in sentence_terms[row]
            ]
            or [""]
            for c in range(len(chunk_doc))
        ]
        or [[""]],
        show_progress=False,
    )
    sentence_bm25 = bm25s.BM25()
    sentence_bm25.index([row or [""] for row in sentence_terms] or [[""]], show_progress=False)
    heading_rows = np.asarray(heading, dtype=bool)
    return Tables(
        doc_ids=doc_ids,
        doc_chars=np.asarray([len(r.document.text) for r in records], dtype=np.int64),
        sentence_doc=np.asarray(sentence_doc, dtype=np.int32),
        sentence_start=np.asarray(starts, dtype=np.int64),
        sentence_end=np.asarray(ends, dtype=np.int64),
        heading=heading_rows,
        section=_sections(sentence_doc, heading_rows),
        position=np.asarray(position, dtype=np.float32),
        opens_paragraph=np.asarray(opens, dtype=bool),
        clause_ptr=np.asarray(clause_ptr, dtype=np.int64),
        clause_start=np.asarray(clause_start, dtype=np.int64),
        clause_end=np.asarray(clause_end, dtype=np.int64),
        chunk_doc=np.asarray(chunk_doc, dtype=np.int32),
        chunk_start=np.asarray(chunk_start, dtype=np.int64),
        chunk_end=np.asarray(chunk_end, dtype=np.int64),
        chunk_ptr=np.asarray(chunk_ptr, dtype=np.int64),
        chunk_members=np.asarray(members, dtype=np.int32),
        dense_mean=(matrix.sum(axis=0) / count).astype(np.float32),
        dense_moment=(matrix.T @ matrix / count).astype(np.float32),
        term_idf=_idf(sentence_terms),
        mean_sentence_terms=float(np.mean([len(t) for t in sentence_terms] or [1.0])),
        vocabulary=tuple(sorted(vocabulary)),
        chunk_bm25=chunk_bm25,
        sentence_bm25=sentence_bm25,
    )


def _row(
    identifier: str, doc_ids: Sequence[str], docs: np.ndarray, starts: np.ndarray
) -> int | None:
    """The row of a span id (rag.types.span_id) among rows sorted by (doc, start)."""
    doc_id, start, _end = span_place(identifier)
    at = bisect_left(doc_ids, doc_id)
    if at == len(doc_ids) or doc_ids[at] != doc_id:
        return None
    low = int(np.searchsorted(docs, at, side="left"))
    high = int(np.searchsorted(docs, at, side="right"))
    row = low + int(np.searchsorted(starts[low:high], start))
    return row if row < high and starts[row] == start else None


def _sections(sentence_doc: Sequence[int], headings: np.ndarray) -> np.ndarray:
    """For each sentence row, the row of the latest heading before it in its document."""
    found = np.full(len(sentence_doc), -1, dtype=np.int32)
    current, doc = -1, None
    for row, index in enumerate(sentence_doc):
        if index != doc:
            current, doc = -1, index
        found[row] = current
        if headings[row]:
            current = row
    return found


def _idf(sentence_terms: list[list[str]]) -> dict[str, float]:
    frequency: dict[str, int] = {}
    for row_terms in sentence_terms:
        for term in set(row_terms):
            frequency[term] = frequency.get(term, 0) + 1
    count = len(sentence_terms)
    return {term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}
