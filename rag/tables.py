"""The serving tables of one index generation: what retrieval needs about every sentence and
chunk without holding their text or vectors.

Derived once from the records when a generation is written, saved beside the index as NumPy
files and bm25s indexes, and read into memory by every process that serves the generation.
Rows are sentences in (document, start) order; texts, vectors, clauses and phrases stay in the
index and are fetched by id for the few sentences a question needs (rag.retrieval).

A generation's folder is written once, whole, under a name unique to its build, and never
changed in place. It is read, never memory-mapped: a file truncated under a mapping kills its
reader with SIGBUS, and the tables are small beside the model (14 MB for the bench's 10,000
documents: 40,307 sentences, 17,705 chunks).
What is read is checked before it serves: each file's size against its header, every offset
against the rows it points into, every index in range, every shape against the others; a
table that fails is DamagedTables, and the store derives it again from the index.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import re
import shutil
import stat
import tempfile
import uuid
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from rag.chunking import is_heading
from rag.errors import DamagedTables, OutdatedTables
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
    "clause_ptr",
    "clause_start",
    "clause_end",
    "chunk_doc",
    "chunk_start",
    "chunk_end",
    "chunk_ptr",
    "chunk_members",
)
_FORMAT = "docqa-tables-3"
# Each array's kind (numpy dtype.kind: i integer, b bool, f float) and number of dimensions.
_KINDS = {
    **dict.fromkeys(_ARRAYS, ("i", 1)),
    "heading": ("b", 1),
}
_BM25 = ("chunk_bm25", "sentence_bm25")
# What names a build's tables (uuid4().hex): the pointer's `build` field must be one before it
# is joined to a path.
BUILD_ID = re.compile(r"[0-9a-f]{32}")


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
    clause_ptr: np.ndarray  # int64, per sentence row: its clauses (when it has two or more)
    clause_start: np.ndarray  # int64
    clause_end: np.ndarray  # int64
    chunk_doc: np.ndarray  # int32
    chunk_start: np.ndarray  # int64
    chunk_end: np.ndarray  # int64
    chunk_ptr: np.ndarray  # int64, per chunk row: its sentence rows in chunk_members
    chunk_members: np.ndarray  # int32
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

    def save(self, folder: Path) -> None:
        """Write the tables to `folder`: made whole in a temporary folder, flushed, then
        renamed into place, so a reader never meets half of them and no file a reader may
        have open is ever written again. A folder already there (damaged: the store saves
        only where it found none that passes its check) is moved aside first, then removed."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            # mkdtemp's folder is its owner's alone: give it the index folder's permissions,
            # so every process that may read the index reads its tables
            os.chmod(staging, stat.S_IMODE(folder.parent.stat().st_mode))
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
            _flush(staging)
            _install(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already when it was installed

    @classmethod
    def load(cls, folder: Path, counts: Mapping[str, int] | None = None) -> Tables:
        """The tables saved in `folder`, read into memory and checked (against the pointer's
        row `counts` too, when given); DamagedTables when they are missing, of another
        format, incomplete, or fail the check."""
        with _reading("tables.json"):
            meta = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise DamagedTables(f"tables.json holds a {type(meta).__name__}, not an object")
            if meta.get("format") != _FORMAT:
                raise OutdatedTables(
                    f"format {meta.get('format')!r}, this version reads {_FORMAT!r}"
                )
            texts = {
                "doc_ids": tuple(meta["doc_ids"]),
                "term_idf": meta["term_idf"],
                "mean_sentence_terms": meta["mean_sentence_terms"],
                "vocabulary": tuple(meta["vocabulary"]),
            }
        arrays = {}
        for name in _ARRAYS:
            with _reading(f"{name}.npy"):
                arrays[name] = _read_array(folder / f"{name}.npy")
        for name in _BM25:
            with _reading(name):
                arrays[name] = _read_bm25(folder / name)
        tables = cls(**texts, **arrays)
        tables.check(counts)
        return tables

    def check(self, counts: Mapping[str, int] | None = None) -> None:
        """DamagedTables unless every value agrees with the rows it points into (and the
        row counts with `counts`, the pointer's, when given)."""
        problem = _problem(self, counts)
        if problem:
            raise DamagedTables(problem)


def build_tables(records: Sequence[DocumentIndex]) -> Tables:
    """The tables of a generation holding `records` (sorted by doc_id, as the store keeps
    them)."""
    records = sorted(records, key=lambda record: record.doc_id)
    doc_ids = tuple(record.doc_id for record in records)
    sentence_doc, starts, ends, heading = [], [], [], []
    clause_ptr, clause_start, clause_end = [0], [], []
    chunk_doc, chunk_start, chunk_end, chunk_ptr, members = [], [], [], [0], []
    sentence_terms: list[list[str]] = []
    vocabulary: set[str] = set()
    for index, record in enumerate(records):
        document = record.document
        first = len(starts)
        row_of = {sentence.start: first + at for at, sentence in enumerate(record.sentences)}
        for sentence, parts in zip(record.sentences, record.clauses, strict=True):
            sentence_doc.append(index)
            starts.append(sentence.start)
            ends.append(sentence.end)
            heading.append(is_heading(sentence, document))
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
        clause_ptr=np.asarray(clause_ptr, dtype=np.int64),
        clause_start=np.asarray(clause_start, dtype=np.int64),
        clause_end=np.asarray(clause_end, dtype=np.int64),
        chunk_doc=np.asarray(chunk_doc, dtype=np.int32),
        chunk_start=np.asarray(chunk_start, dtype=np.int64),
        chunk_end=np.asarray(chunk_end, dtype=np.int64),
        chunk_ptr=np.asarray(chunk_ptr, dtype=np.int64),
        chunk_members=np.asarray(members, dtype=np.int32),
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


# -- reading and writing, checked ---------------------------------------------------------


@contextlib.contextmanager
def _reading(name: str) -> Iterator[None]:
    """Any failure to read `name` as DamagedTables, naming it."""
    try:
        yield
    except DamagedTables:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError) as error:
        raise DamagedTables(f"{name} cannot be read ({type(error).__name__}: {error})") from None


def _read_array(path: Path) -> np.ndarray:
    """A .npy file read into memory, after its size is checked against its header (a
    truncated or padded file is DamagedTables, never a short read or a huge allocation)."""
    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise DamagedTables(f"{path.name} is of .npy version {version}")
        if dtype.hasobject:
            raise DamagedTables(f"{path.name} holds Python objects")
        count = math.prod(shape)
        size = count * dtype.itemsize
        held = os.fstat(handle.fileno()).st_size - handle.tell()
        if held != size:
            raise DamagedTables(f"{path.name} holds {held} bytes of data, its header says {size}")
        data = handle.read(size)
    if len(data) != size:
        raise DamagedTables(f"{path.name} was cut short while it was read")
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C")


def _read_bm25(folder: Path) -> bm25s.BM25:
    """A bm25s index read into memory: bm25s reads its parameters and vocabulary and maps its
    arrays, which are then replaced by copies read (and size-checked) here, so no mapping
    outlives the load."""
    arrays = {
        key: _read_array(folder / f"{key}.csc.index.npy") for key in ("data", "indices", "indptr")
    }
    index = bm25s.BM25.load(folder, mmap=True, show_progress=False)
    index.scores = {**arrays, "num_docs": index.scores.get("num_docs")}
    return index


def _flush(folder: Path) -> None:
    """Flush every file under `folder` and the folder itself to the disk, so a crash after the
    rename cannot leave files whose blocks never reached it."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for path in sorted((folder, *(p for p in folder.rglob("*") if p.is_dir()))):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _install(staging: Path, folder: Path) -> None:
    """Rename the whole `staging` folder to `folder`. One already there is renamed aside
    first and removed after: its files are never written, only unlinked."""
    aside = folder.with_name(f".{folder.name}-damaged-{uuid.uuid4().hex[:12]}")
    try:
        with contextlib.suppress(FileNotFoundError):
            os.replace(folder, aside)
        try:
            os.replace(staging, folder)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # another process installed the same generation's tables meanwhile: theirs serve
    finally:
        shutil.rmtree(aside, ignore_errors=True)


# -- the check ------------------------------------------------------------------------------


def _problem(tables: Tables, counts: Mapping[str, int] | None) -> str:
    """What is wrong with `tables` ("" when nothing is)."""
    try:
        return (
            _shape_problem(tables, counts)
            or _sentence_problem(tables)
            or _chunk_problem(tables)
            or _term_problem(tables)
            or _bm25_problem("chunk_bm25", tables.chunk_bm25, max(tables.chunk_count, 1))
            or _bm25_problem("sentence_bm25", tables.sentence_bm25, max(tables.sentence_count, 1))
        )
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError) as error:
        return f"their values cannot be checked ({type(error).__name__}: {error})"


def _shape_problem(tables: Tables, counts: Mapping[str, int] | None) -> str:
    for name in _ARRAYS:
        array, (kind, ndim) = getattr(tables, name), _KINDS[name]
        if array.dtype.kind != kind or array.ndim != ndim:
            return f"{name} is a {array.ndim}-dimensional array of {array.dtype}"
    ids = tables.doc_ids
    if not all(isinstance(doc_id, str) for doc_id in ids) or list(ids) != sorted(set(ids)):
        return "doc_ids are not distinct names in order"
    docs, rows, chunks = len(ids), tables.sentence_count, tables.chunk_count
    held = {
        "documents": docs,
        "chunks": chunks,
        "sentences": rows,
        "clauses": len(tables.clause_start),
    }
    for kind, count in (counts or {}).items():
        if kind in held and held[kind] != count:
            return f"they hold {held[kind]} {kind} where the index holds {count}"
    shapes = {
        "doc_chars": (docs,),
        **dict.fromkeys(("sentence_start", "sentence_end", "heading", "section"), (rows,)),
        "clause_ptr": (rows + 1,),
        "clause_end": tables.clause_start.shape,
        **dict.fromkeys(("chunk_start", "chunk_end"), (chunks,)),
        "chunk_ptr": (chunks + 1,),
    }
    for name, shape in shapes.items():
        if getattr(tables, name).shape != shape:
            return f"{name} has shape {getattr(tables, name).shape}, not {shape}"
    return ""


def _sentence_problem(tables: Tables) -> str:
    rows, docs = tables.sentence_count, len(tables.doc_ids)
    doc = tables.sentence_doc.astype(np.int64)
    length = tables.doc_chars.astype(np.int64)
    if np.any(length < 0):
        return "a document's length is negative"
    if rows and (doc.min() < 0 or doc.max() >= docs):
        return "sentence_doc points past the documents"
    if np.any(np.diff(doc) < 0):
        return "the sentence rows are not in document order"
    start, end = tables.sentence_start, tables.sentence_end
    if np.any(start < 0) or np.any(start > end) or np.any(end > length[doc]):
        return "a sentence's offsets fall outside its document"
    if np.any((doc[1:] == doc[:-1]) & (start[1:] <= start[:-1])):
        return "the sentences of a document are not in order of their starts"
    section, row = tables.section.astype(np.int64), np.arange(rows)
    if np.any((section < -1) | (section >= row)):
        return "a sentence's section is not a row before it"
    under = section >= 0
    if np.any(doc[section[under]] != doc[under]) or not tables.heading[section[under]].all():
        return "a sentence's section is not a heading of its document"
    pointers = tables.clause_ptr
    steps = np.diff(pointers)
    if pointers[0] != 0 or np.any(steps < 0) or pointers[-1] != len(tables.clause_start):
        return "clause_ptr does not point into the clauses in order"
    owner = np.repeat(row, steps)
    first, last = tables.clause_start, tables.clause_end
    if np.any((first < start[owner]) | (first > last) | (last > end[owner])):
        return "a clause's offsets fall outside its sentence"
    return ""


def _chunk_problem(tables: Tables) -> str:
    docs, rows = len(tables.doc_ids), tables.sentence_count
    doc = tables.chunk_doc.astype(np.int64)
    if len(doc) and (doc.min() < 0 or doc.max() >= docs):
        return "chunk_doc points past the documents"
    if np.any(np.diff(doc) < 0):
        return "the chunk rows are not in document order"
    start, end = tables.chunk_start, tables.chunk_end
    if np.any(start < 0) or np.any(start > end) or np.any(end > tables.doc_chars[doc]):
        return "a chunk's offsets fall outside its document"
    if np.any((doc[1:] == doc[:-1]) & (start[1:] <= start[:-1])):
        return "the chunks of a document are not in order of their starts"
    pointers, members = tables.chunk_ptr, tables.chunk_members.astype(np.int64)
    steps = np.diff(pointers)
    if pointers[0] != 0 or np.any(steps < 1) or pointers[-1] != len(members):
        return "chunk_ptr does not point into chunk_members in order"
    if len(members) and (members.min() < 0 or members.max() >= rows):
        return "chunk_members points past the sentences"
    if np.any(tables.sentence_doc[members] != np.repeat(doc, steps)):
        return "a chunk holds a sentence of another document"
    first, last = members[pointers[:-1]], members[pointers[1:] - 1]
    if np.any(tables.sentence_start[first] != start) or np.any(tables.sentence_end[last] != end):
        return "a chunk's offsets disagree with its sentences'"
    return ""


def _term_problem(tables: Tables) -> str:
    if not isinstance(tables.term_idf, dict) or not all(
        isinstance(term, str) and _number(idf) for term, idf in tables.term_idf.items()
    ):
        return "term_idf is not a number for each term"
    if not _number(tables.mean_sentence_terms) or tables.mean_sentence_terms < 0:
        return "mean_sentence_terms is not a number"
    words = tables.vocabulary
    if not all(isinstance(word, str) for word in words) or list(words) != sorted(words):
        return "the vocabulary is not words in order"
    return ""


def _bm25_problem(name: str, index: bm25s.BM25, documents: int) -> str:
    scores = index.scores
    data, indices, pointers = scores["data"], scores["indices"], scores["indptr"]
    if scores["num_docs"] != documents or isinstance(scores["num_docs"], bool):
        return f"{name} scores {scores['num_docs']!r} rows, not {documents}"
    if (data.dtype.kind, indices.dtype.kind, pointers.dtype.kind) != ("f", "i", "i") or any(
        array.ndim != 1 for array in (data, indices, pointers)
    ):
        return f"{name}'s arrays are not of the kinds it writes"
    if np.dtype(index.dtype).kind != "f" or np.dtype(index.int_dtype).kind != "i":
        return f"{name}'s parameters are not of the kinds it writes"
    if not len(pointers) or pointers[0] != 0 or np.any(np.diff(pointers) < 0):
        return f"{name}'s indptr is not in order"
    if pointers[-1] != len(data) or len(indices) != len(data):
        return f"{name}'s arrays disagree in length"
    if len(indices) and (indices.min() < 0 or indices.max() >= documents):
        return f"{name} scores rows past its {documents}"
    if not np.isfinite(data).all():
        return f"{name}'s scores are not numbers"
    vocabulary = index.vocab_dict
    if not isinstance(vocabulary, dict) or not all(
        isinstance(term, str) and type(at) is int and 0 <= at < len(pointers)
        for term, at in vocabulary.items()
    ):
        return f"{name}'s vocabulary points past its terms"
    if index.nonoccurrence_array is not None:
        return f"{name} is of a method docqa does not write"
    return ""


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
