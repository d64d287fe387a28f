"""Rows: what the index holds, one row per document, chunk, sentence and clause (an id, a
vector, a text and metadata), made from the records of rag.indexing and read back into them;
and `ChromaRows`, a generation's rows fetched by id for a serving corpus."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from rag.answer_types import phrases_from_json, phrases_to_json
from rag.corpus import SentenceRow
from rag.documents import Stamp
from rag.errors import DamagedIndex, StoreError
from rag.indexing import DocumentIndex
from rag.types import Chunk, Document, Span

if TYPE_CHECKING:
    from rag.store.store import Store

KINDS = ("documents", "chunks", "sentences", "clauses")  # a generation's collections
WRITE_BATCH = 1000  # rows per Chroma write
READ_BATCH = 5000  # rows per Chroma read

Row = tuple[str, np.ndarray, str, dict]  # id, vector, text, metadata


class ChromaRows:
    """A generation's rows fetched by id, and its vector searches, from the index (which
    runs them server-side when it is a Chroma server): what a serving process does not
    hold (rag.corpus.Rows)."""

    def __init__(self, store: Store, generation: int) -> None:
        self._store = store
        self._connection = store.connection
        self._generation = generation
        self._collections: dict[str, object] = {}

    def _get(self, kind: str, ids: Sequence[str]) -> dict[str, tuple[str, dict, np.ndarray]]:
        """id -> (text, metadata, vector) of the rows with these ids; a StoreError when one
        is missing (a writer dropped the generation, or it is damaged)."""
        if not ids:
            return {}
        include = ["documents", "metadatas", "embeddings"]
        with self._store.as_store_errors("read"):
            got = self._connection.retrying(
                self._collection(kind).get, ids=list(ids), include=include
            )
        found = {
            id_: (text, metadata, vector)
            for id_, text, metadata, vector in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            )
        }
        if missing := set(ids) - set(found):
            raise StoreError(
                f"the index at {self._connection.location} no longer holds "
                f"{sorted(missing)[0]} (it was rebuilt or damaged): ask again, or run "
                "`docqa index`"
            )
        return found

    def _collection(self, kind: str):
        if kind not in self._collections:
            client = self._connection.client()
            name = self._connection.collection_name(self._generation, kind)
            self._collections[kind] = self._connection.retrying(client.get_collection, name)
        return self._collections[kind]

    def sentences(self, ids: Sequence[str]) -> dict[str, SentenceRow]:
        """The sentences with these ids."""
        return {
            id_: SentenceRow(
                Span(meta["doc_id"], meta["start"], meta["end"], text),
                np.asarray(vector, dtype=np.float32),
                phrases_from_json(meta.get("phrases", "[]")),
            )
            for id_, (text, meta, vector) in self._get("sentences", ids).items()
        }

    def clauses(self, ids: Sequence[str]) -> dict[str, tuple[Span, np.ndarray]]:
        """The clauses with these ids, with their vectors."""
        return {
            id_: (
                Span(meta["doc_id"], meta["start"], meta["end"], text),
                np.asarray(vector, dtype=np.float32),
            )
            for id_, (text, meta, vector) in self._get("clauses", ids).items()
        }

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The chunks with these ids, with their sentences."""
        found = {}
        for id_, (text, meta, _vector) in self._get("chunks", ids).items():
            start = meta["start"]
            members = tuple(
                Span(meta["doc_id"], first, last, text[first - start : last - start])
                for first, last in json.loads(meta["sentences"])
            )
            found[id_] = Chunk(meta["doc_id"], start, meta["end"], text, members)
        return found

    def documents(self, ids: Sequence[str]) -> dict[str, Document]:
        """The documents with these ids."""
        return {
            id_: document_from_row(meta, text)
            for id_, (text, meta, _vector) in self._get("documents", ids).items()
        }

    def nearest_sentences(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ids and cosines of the `k` sentences nearest `vector` (the index's HNSW)."""
        with self._store.as_store_errors("search"):
            got = self._connection.retrying(
                self._collection("sentences").query,
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=k,
                include=["distances"],
            )
        return [
            (id_, 1.0 - float(distance))
            for id_, distance in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    def nearest_chunks(self, vector: np.ndarray, k: int) -> list[str]:
        """The ids of the `k` chunks nearest `vector` (LangChain's Chroma vector store)."""
        return self._store.dense_search(np.asarray(vector).tolist(), k, self._generation)

    @property
    def generation(self) -> int:
        """The generation these rows are read from."""
        return self._generation


# -- records to rows -------------------------------------------------------------------------


def row_counts(records: Sequence[DocumentIndex]) -> dict[str, int]:
    """How many rows of each kind `records` make."""
    return {
        "documents": len(records),
        "chunks": sum(len(r.chunks) for r in records),
        "sentences": sum(len(r.sentences) for r in records),
        "clauses": sum(len(parts) for r in records for parts in r.clauses),
    }


def batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Consecutive lists of `size` rows (the last may be shorter)."""
    while batch := list(itertools.islice(rows, size)):
        yield batch


def rows_of(
    records: Sequence[DocumentIndex], kind: str, stamps: Mapping[str, Stamp] | None = None
) -> Iterator[Row]:
    """The rows of one kind ("documents", "chunks", "sentences", "clauses") for `records`; a
    document's row keeps its file's stamp when `stamps` has it."""
    stamps = stamps or {}
    for record in records:
        document = record.document
        if kind == "documents":
            width = record.sentence_vectors.shape[1]
            yield (
                document.doc_id,
                _document_vector(record.chunk_vectors, width),
                document.text,
                {
                    "doc_id": document.doc_id,
                    "hash": record.content_hash,
                    "pages": json.dumps(document.pages),
                    "headings": json.dumps(document.headings),
                    **stamp_fields(stamps.get(document.doc_id)),
                },
            )
        elif kind == "chunks":
            for chunk, vector in zip(record.chunks, record.chunk_vectors, strict=True):
                yield (
                    chunk.id,
                    vector,
                    chunk.text,
                    {
                        "doc_id": chunk.doc_id,
                        "start": chunk.start,
                        "end": chunk.end,
                        "sentences": json.dumps([[s.start, s.end] for s in chunk.sentences]),
                    },
                )
        elif kind == "sentences":
            for sentence, vector, phrases in zip(
                record.sentences, record.sentence_vectors, record.phrases, strict=True
            ):
                yield (
                    sentence.id,
                    vector,
                    sentence.text,
                    {
                        "doc_id": sentence.doc_id,
                        "start": sentence.start,
                        "end": sentence.end,
                        "phrases": phrases_to_json(phrases),
                    },
                )
        else:
            parts = [
                (s, part)
                for s, group in zip(record.sentences, record.clauses, strict=True)
                for part in group
            ]
            for (sentence, part), vector in zip(parts, record.clause_vectors, strict=True):
                yield (
                    part.id,
                    vector,
                    part.text,
                    {
                        "doc_id": part.doc_id,
                        "start": part.start,
                        "end": part.end,
                        "sentence": sentence.start,
                    },
                )


def stamp_fields(stamp: Stamp | None) -> dict[str, int]:
    """A document row's record of its file's stamp ({} when it has none)."""
    if stamp is None:
        return {}
    recorded = {"size": stamp.size, "mtime_ns": stamp.mtime_ns, "seen_ns": stamp.seen_ns}
    if stamp.ino is not None and stamp.ctime_ns is not None:
        recorded |= {"ino": stamp.ino, "ctime_ns": stamp.ctime_ns}
    return recorded


def _document_vector(chunk_vectors: np.ndarray, width: int) -> np.ndarray:
    """A document's row vector: the normalised mean of its chunks' (a fixed unit vector for
    a document without text, since Chroma needs one)."""
    if not len(chunk_vectors):
        unit = np.zeros(width, dtype=np.float32)
        unit[0] = 1.0
        return unit
    mean = chunk_vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


# -- rows to records -------------------------------------------------------------------------


def document_from_row(metadata: dict, text: str) -> Document:
    """The document a documents row holds (its text, and pages and headings as JSON)."""
    return Document(
        metadata["doc_id"],
        text,
        pages=tuple(json.loads(metadata["pages"])),
        headings=tuple(tuple(pair) for pair in json.loads(metadata["headings"])),
    )


def stamp_from_row(metadata: dict) -> Stamp | None:
    """The stamp a document row records, or None (a document given to `sync` without one).
    An older row has no inode or change time: its stamp never holds, so its file is read
    and its content hash compared (`Stamp.unchanged`)."""
    try:
        size, mtime_ns = int(metadata["size"]), int(metadata["mtime_ns"])
        seen_ns = int(metadata["seen_ns"])
    except (KeyError, TypeError, ValueError):
        return None
    try:
        ino, ctime_ns = int(metadata["ino"]), int(metadata["ctime_ns"])
    except (KeyError, TypeError, ValueError):
        return Stamp(size, mtime_ns, seen_ns)
    return Stamp(size, mtime_ns, seen_ns, ino, ctime_ns)


def read_all_rows(collection) -> dict[str, list]:
    """Every row of a collection: ids, metadatas, documents (texts) and embeddings."""
    include = ["metadatas", "documents", "embeddings"]
    rows: dict[str, list] = {"ids": [], "metadatas": [], "documents": [], "embeddings": []}
    offset = 0
    while True:
        got = collection.get(include=include, limit=READ_BATCH, offset=offset)
        if not got["ids"]:
            return rows
        rows["ids"] += got["ids"]
        rows["metadatas"] += got["metadatas"]
        rows["documents"] += got["documents"]
        rows["embeddings"] += list(got["embeddings"])
        offset += len(got["ids"])


def records_from_rows(rows: dict[str, dict[str, list]]) -> list[DocumentIndex]:
    """The records stored rows describe (every row of each kind, as `read_all_rows` reads
    them), documents in id order; a DamagedIndex when rows disagree with each other."""
    by_doc: dict[str, dict[str, list]] = {}
    for kind in KINDS[1:]:
        table = rows[kind]
        for metadata, text, vector in zip(
            table["metadatas"], table["documents"], table["embeddings"], strict=True
        ):
            by_doc.setdefault(metadata["doc_id"], {k: [] for k in KINDS[1:]})[kind].append(
                (metadata, text, vector)
            )
    # Every row has a vector of the model's width, a document's too: a document without
    # sentences still has its width.
    width = len(rows["documents"]["embeddings"][0]) if rows["documents"]["ids"] else 0
    records = []
    for metadata, text in sorted(
        zip(rows["documents"]["metadatas"], rows["documents"]["documents"], strict=True),
        key=lambda row: row[0]["doc_id"],
    ):
        document = document_from_row(metadata, text)
        own = by_doc.pop(document.doc_id, {k: [] for k in KINDS[1:]})
        records.append(_record_from_rows(document, metadata["hash"], own, width))
    if by_doc:
        raise DamagedIndex(f"rows of documents it does not list ({sorted(by_doc)[0]})")
    return records


def _record_from_rows(
    document: Document, digest: str, own: dict[str, list], width: int
) -> DocumentIndex:
    """One document's record, from its own chunk, sentence and clause rows."""
    text = document.text

    def span(metadata: dict, stored: str) -> Span:
        found = Span(document.doc_id, metadata["start"], metadata["end"], stored)
        if text[found.start : found.end] != stored:
            raise DamagedIndex(f"a stored span of {document.doc_id} does not match its text")
        return found

    sentence_rows = sorted(own["sentences"], key=lambda row: row[0]["start"])
    sentences = tuple(span(m, t) for m, t, _v in sentence_rows)
    parts_of: dict[int, list[tuple[Span, object]]] = {}
    for metadata, stored, vector in sorted(own["clauses"], key=lambda row: row[0]["start"]):
        parts_of.setdefault(metadata["sentence"], []).append((span(metadata, stored), vector))
    clause_groups = tuple(tuple(p for p, _v in parts_of.get(s.start, ())) for s in sentences)
    clause_vectors = [v for s in sentences for _p, v in parts_of.get(s.start, ())]
    by_start = {s.start: s for s in sentences}
    chunks = []
    for metadata, stored, _vector in sorted(own["chunks"], key=lambda row: row[0]["start"]):
        whole = span(metadata, stored)
        try:
            members = tuple(by_start[start] for start, _end in json.loads(metadata["sentences"]))
        except KeyError:
            raise DamagedIndex(f"a chunk of {document.doc_id} lacks its sentences") from None
        chunks.append(Chunk(whole.doc_id, whole.start, whole.end, whole.text, members))
    return DocumentIndex(
        document=document,
        content_hash=digest,
        chunks=tuple(chunks),
        sentences=sentences,
        sentence_vectors=np.asarray([v for _m, _t, v in sentence_rows], dtype=np.float32).reshape(
            -1, width
        ),
        clauses=clause_groups,
        clause_vectors=np.asarray(clause_vectors, dtype=np.float32).reshape(-1, width),
        phrases=tuple(phrases_from_json(m.get("phrases", "[]")) for m, _t, _v in sentence_rows),
    )
