"""The Chroma index: the derived records of rag.indexing, saved as generations.

A generation is four collections (documents, chunks, sentences, clauses) named
`<collection>-g<N>-<kind>`; a fifth, `<collection>-live`, names the generation being served
in its metadata, with the fingerprint of what shaped it and its row counts. A build writes a
whole new generation beside the live one and switches the pointer only when it is complete,
then drops the old one: a build killed half way leaves the previous generation serving. The
same code runs on an embedded index (`index_dir/chroma`) and on a Chroma server.

Damage is proven, never assumed: rows that disagree with the pointer's counts, or a database
file SQLite cannot read. A bad setting, a permission problem or an unreachable server is
reported as what it is and deletes nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.answer_types import phrases_from_json, phrases_to_json
from rag.documents import Skipped, content_hash
from rag.embeddings import SentenceEmbeddings
from rag.errors import StoreError
from rag.indexing import DocumentIndex, derive, fingerprint
from rag.settings import Settings
from rag.types import Chunk, Document, Span

if TYPE_CHECKING:
    import chromadb
    from langchain_chroma import Chroma

log = logging.getLogger(__name__)

KINDS = ("documents", "chunks", "sentences", "clauses")
_WRITE_BATCH = 1000  # rows per Chroma write
_READ_BATCH = 5000  # rows per Chroma read
_LOCK_WAIT_S = 600  # how long a second `docqa index` waits for the first
_STALE_LOCK_S = 6 * 3600  # a server lock this old was left by a writer that died
_RETRY_PAUSES_S = (0.3, 1.0, 3.0)  # backoff while a Chroma server does not answer


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
    recovered: str = ""  # why a damaged index was set aside and rebuilt, if it was
    skipped: tuple[Skipped, ...] = ()  # files in the source folder that were not read
    generation: int = 0  # the generation now serving
    held: tuple[str, ...] = ()  # skipped files whose copy indexed before is still served


@dataclass(frozen=True)
class Live:
    """The generation being served, as the pointer records it."""

    generation: int
    fingerprint: str
    counts: dict[str, int]


class DamagedIndex(Exception):
    """Proof that the stored index is damaged (internal: sync rebuilds it)."""


class Store:
    """The index for one settings object; the client is opened lazily, once."""

    def __init__(self, settings: Settings, embeddings: SentenceEmbeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self._client: chromadb.ClientAPI | None = None
        self._lock = threading.RLock()
        self._vectorstore: Chroma | None = None
        self._served = 0  # the generation dense_search reads

    # -- the public operations -----------------------------------------------------------

    def sync(
        self,
        documents: Sequence[Document],
        progress: bool = False,
        unreadable: Collection[str] = (),
        on_progress: Callable[[int, int], None] | None = None,
    ) -> tuple[IndexReport, list[DocumentIndex]]:
        """Make the live generation hold exactly `documents`, deriving only what changed;
        returns what it did and the records now served. A file in `unreadable` (there, but
        skipped this time) keeps the copy indexed before, if there is one: nothing already
        indexed is lost to a file that cannot be read for a while. `on_progress(done, total)`
        follows the sentences being embedded."""
        with self._lock, self._errors("write"), self._writer():
            wanted = fingerprint(self.settings)
            live = self._live()
            kept: dict[str, DocumentIndex] = {}
            recovered = ""
            if live is not None and live.fingerprint == wanted:
                try:
                    kept = {record.doc_id: record for record in self._load(live)}
                except DamagedIndex as damage:
                    recovered = str(damage)
                    log.warning(
                        "the index at %s is damaged (%s); rebuilding it beside the damaged one",
                        self._where(),
                        recovered,
                    )
            hashes = {document.doc_id: content_hash(document) for document in documents}
            changed = [
                document
                for document in documents
                if document.doc_id not in kept
                or kept[document.doc_id].content_hash != hashes[document.doc_id]
            ]
            held = sorted(set(unreadable) & set(kept) - set(hashes))
            removed = sorted(set(kept) - set(hashes) - set(held))
            current = live is not None and live.fingerprint == wanted and not recovered
            if live is not None and current and not changed and not removed:
                records = _by_id([kept[d.doc_id] for d in documents] + [kept[i] for i in held])
                self._serve(live.generation)
                return self._report(records, 0, (), (), "", live.generation, held), records
            derived = {
                record.doc_id: record
                for record in derive(changed, self.settings, self.embeddings, progress, on_progress)
            }
            records = _by_id(
                [derived.get(d.doc_id) or kept[d.doc_id] for d in documents]
                + [kept[doc_id] for doc_id in held]
            )
            generation = self._next_generation(live)
            self._write(generation, records)
            self._point(generation, wanted, records)
            self._drop_all_but(generation)
            self._serve(generation)
            embedded = sum(len(record.sentences) for record in derived.values())
            report = self._report(
                records,
                embedded,
                tuple(document.doc_id for document in changed),
                tuple(removed),
                recovered,
                generation,
                held,
            )
            return report, records

    def load(self) -> list[DocumentIndex]:
        """The records of the live generation; a StoreError when there is none yet."""
        with self._lock, self._errors("read"):
            live = self._live()
            if live is None:
                raise StoreError(f"there is no index at {self._where()} yet: run `docqa index`")
            try:
                records = self._load(live)
            except DamagedIndex as damage:
                raise StoreError(
                    f"the index at {self._where()} is damaged ({damage}): run `docqa index` "
                    "to rebuild it"
                ) from None
            self._serve(live.generation)
            return records

    def live_generation(self) -> int:
        """The generation the index serves now (0 when it has none): a serving process that
        loaded an older one reloads."""
        with self._lock, self._errors("read"):
            live = self._live()
            return live.generation if live else 0

    @property
    def served_generation(self) -> int:
        """The generation this store's dense search reads."""
        return self._served

    def dense_search(self, vector: list[float], k: int) -> list[str]:
        """The ids of the `k` chunks closest to `vector`, best first."""
        with self._errors("search"):
            hits = self._retrying(
                self.vectorstore().similarity_search_by_vector_with_relevance_scores, vector, k=k
            )
        return [doc.id for doc, _distance in hits]  # rows are stored under Chunk.id

    def vectorstore(self) -> Chroma:
        """The served generation's chunk collection as a LangChain vector store."""
        with self._lock:
            if self._vectorstore is None:
                from langchain_chroma import Chroma

                if not self._served:
                    self._served = self.live_generation()
                self._vectorstore = Chroma(
                    collection_name=self._name(self._served, "chunks"),
                    embedding_function=self.embeddings,
                    client=self._open_client(),
                    create_collection_if_not_exists=False,
                )
            return self._vectorstore

    def close(self) -> None:
        """Forget the client, so the next use opens the index afresh."""
        with self._lock:
            self._client = None
            self._vectorstore = None
            self._served = 0
            import chromadb

            chromadb.api.client.SharedSystemClient.clear_system_cache()

    # -- reading -------------------------------------------------------------------------

    def _live(self) -> Live | None:
        client = self._retrying(self._open_client)
        try:
            pointer = self._retrying(client.get_collection, self._pointer_name())
        except Exception as error:
            if _is_missing(error):
                return None
            raise
        meta = pointer.metadata or {}
        if "generation" not in meta:
            return None
        return Live(
            int(meta["generation"]),
            str(meta.get("fingerprint", "")),
            {kind: int(meta.get(kind, -1)) for kind in KINDS},
        )

    def _load(self, live: Live) -> list[DocumentIndex]:
        """Every record of a generation, checked against the pointer's counts."""
        rows = {}
        for kind in KINDS:
            try:
                collection = self._open_client().get_collection(self._name(live.generation, kind))
            except Exception as error:
                if _is_missing(error):
                    raise DamagedIndex(f"its {kind} collection is missing") from None
                raise
            rows[kind] = _read_all(collection, with_vectors=kind != "documents")
            if len(rows[kind]["ids"]) != live.counts[kind]:
                raise DamagedIndex(
                    f"{collection.name} holds {len(rows[kind]['ids'])} rows, the index's "
                    f"record says {live.counts[kind]}"
                )
        if rows["chunks"]["ids"]:  # querying with a stored vector proves the vector file loads
            chunks = self._open_client().get_collection(self._name(live.generation, "chunks"))
            try:
                chunks.query(query_embeddings=[rows["chunks"]["embeddings"][0]], n_results=1)
            except Exception as error:
                if _is_connection(error):
                    raise
                raise DamagedIndex(f"its vector index cannot be searched ({error})") from None
        return _records(rows)

    # -- writing -------------------------------------------------------------------------

    def _write(self, generation: int, records: Sequence[DocumentIndex]) -> None:
        client = self._open_client()
        for kind in KINDS:  # leftovers of a build that died under the same number
            with contextlib.suppress(Exception):
                client.delete_collection(self._name(generation, kind))
        made = {
            kind: client.create_collection(
                self._name(generation, kind),
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
            for kind in KINDS
        }
        for kind in KINDS:
            # Rows are made a batch at a time: a whole corpus of them at once would hold a
            # second copy of every vector and text as Python objects.
            for batch in _batches(_rows(records, kind), _WRITE_BATCH):
                ids, vectors, texts, metadatas = zip(*batch, strict=True)
                self._retrying(
                    made[kind].upsert,  # upsert: a retried write must not fail as a duplicate
                    ids=list(ids),
                    embeddings=np.asarray(vectors, dtype=np.float32),
                    documents=list(texts),
                    metadatas=list(metadatas),
                )

    def _point(self, generation: int, wanted: str, records: Sequence[DocumentIndex]) -> None:
        counts = _counts(records)
        pointer = self._open_client().get_or_create_collection(
            self._pointer_name(), embedding_function=None
        )
        pointer.modify(metadata={"generation": generation, "fingerprint": wanted, **counts})

    def _drop_all_but(self, generation: int) -> None:
        """Drop every other generation of this index (and collections of older formats)."""
        client = self._open_client()
        ours = re.compile(
            rf"{re.escape(self.settings.collection)}-(?:g(\d+)-)?(?:{'|'.join(KINDS)})"
        )
        for name in _collection_names(client):
            match = ours.fullmatch(name)
            if match and match.group(1) != str(generation):
                with contextlib.suppress(Exception):
                    client.delete_collection(name)

    def _next_generation(self, live: Live | None) -> int:
        return (live.generation if live else 0) + 1

    def _serve(self, generation: int) -> None:
        if generation != self._served:
            self._served = generation
            self._vectorstore = None

    def _report(
        self,
        records: Sequence[DocumentIndex],
        embedded: int,
        changed: tuple[str, ...],
        removed: tuple[str, ...],
        recovered: str,
        generation: int,
        held: Sequence[str] = (),
    ) -> IndexReport:
        counts = _counts(records)
        return IndexReport(
            documents=counts["documents"],
            chunks=counts["chunks"],
            sentences=counts["sentences"],
            clauses=counts["clauses"],
            embedded=embedded,
            changed=changed,
            removed=removed,
            recovered=recovered,
            generation=generation,
            held=tuple(held),
        )

    # -- the client, the lock and errors -------------------------------------------------

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
                    try:
                        self._client = chromadb.PersistentClient(
                            path=str(self.chroma_path), settings=chroma_settings
                        )
                    except Exception as error:
                        if not _is_unreadable_database(error):
                            raise
                        chromadb.api.client.SharedSystemClient.clear_system_cache()
                        self._set_aside(error)
                        self._client = chromadb.PersistentClient(
                            path=str(self.chroma_path), settings=chroma_settings
                        )
            return self._client

    def _set_aside(self, error: Exception) -> None:
        """Move a database SQLite cannot read out of the way (kept, never deleted)."""
        aside = self.chroma_path.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        self.chroma_path.rename(aside)
        log.warning(
            "the index at %s is damaged (%s); moved it to %s and rebuilding it",
            self.chroma_path,
            error,
            aside,
        )
        self.chroma_path.mkdir(parents=True)

    @property
    def chroma_path(self):
        """Where the embedded index keeps its files."""
        return self.settings.index_dir / "chroma"

    @contextlib.contextmanager
    def _writer(self) -> Iterator[None]:
        """One writer at a time: a file lock beside an embedded index (a Chroma server has
        none; run one indexer per collection)."""
        if self.settings.chroma_host:
            with self._server_writer():
                yield
            return
        import fcntl

        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        with (self.settings.index_dir / "index.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning(
                    "another docqa is writing the index at %s; waiting for it", self._where()
                )
                deadline = time.monotonic() + _LOCK_WAIT_S
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise StoreError(
                                f"another docqa has been writing the index at {self._where()} "
                                f"for over {_LOCK_WAIT_S} s: wait for it to finish, or stop it"
                            ) from None
                        time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _server_writer(self) -> Iterator[None]:
        """One writer at a time on a Chroma server: the writer holds a lock collection,
        `<collection>-writer`, which records since when and who; creating it fails while
        another holds it. A lock older than _STALE_LOCK_S is a writer that died: taken over."""
        client = self._retrying(self._open_client)
        name = f"{self.settings.collection}-writer"
        deadline = time.monotonic() + _LOCK_WAIT_S
        waiting = False
        while True:
            try:
                client.create_collection(
                    name,
                    metadata={"since": time.time(), "by": f"{socket.gethostname()}:{os.getpid()}"},
                    embedding_function=None,
                )
                break
            except Exception as error:
                if _is_connection(error) or "already exists" not in str(error):
                    raise
            held = (self._retrying(client.get_collection, name).metadata) or {}
            if time.time() - float(held.get("since", 0)) > _STALE_LOCK_S:
                log.warning("taking over the index lock %s left by %s", name, held.get("by"))
                with contextlib.suppress(Exception):
                    client.delete_collection(name)
                continue
            if not waiting:
                log.warning(
                    "another docqa (%s) is writing the index on %s; waiting for it",
                    held.get("by", "?"),
                    self._where(),
                )
                waiting = True
            if time.monotonic() > deadline:
                raise StoreError(
                    f"another docqa ({held.get('by', '?')}) has been writing the index on "
                    f"{self._where()} for over {_LOCK_WAIT_S} s: wait for it, or if none is "
                    f"running, delete the collection {name} on the server"
                )
            time.sleep(0.5)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                client.delete_collection(name)

    def _retrying(self, call, *args, **kwargs):
        """`call(*args, **kwargs)`, tried again with backoff while a Chroma server cannot be
        reached (a restart, a proxy's 503): only the last failure is raised."""
        for pause in (*_RETRY_PAUSES_S, None):
            try:
                return call(*args, **kwargs)
            except Exception as error:
                if pause is None or not self.settings.chroma_host or not _is_connection(error):
                    raise
                log.info("the Chroma server did not answer (%s); trying again", _brief(error))
                time.sleep(pause)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Chroma and its client raise many types; each becomes a StoreError that says what
        happened and what to do."""
        try:
            yield
        except StoreError:
            raise
        except Exception as error:
            if _is_connection(error):
                self.close()
                raise StoreError(
                    f"cannot reach the Chroma server at {self._where()} ({_brief(error)}): "
                    "start it (`chroma run --path <folder> --port "
                    f"{self.settings.chroma_port}`) or fix DOCQA_CHROMA_HOST/DOCQA_CHROMA_PORT"
                ) from error
            if isinstance(error, PermissionError) or "readonly" in str(error).lower():
                raise StoreError(
                    f"cannot {doing} the index at {self._where()}: permission denied "
                    f"({_brief(error)}); make the folder writable or set DOCQA_INDEX_DIR to one "
                    "that is"
                ) from error
            raise StoreError(
                f"could not {doing} the index at {self._where()} ({_brief(error)}); run "
                "`docqa index` again, and if it fails again report it"
            ) from error

    def _name(self, generation: int, kind: str) -> str:
        return f"{self.settings.collection}-g{generation}-{kind}"

    def _pointer_name(self) -> str:
        return f"{self.settings.collection}-live"

    def _where(self) -> str:
        if self.settings.chroma_host:
            return f"{self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.chroma_path)


# -- rows ------------------------------------------------------------------------------------


def _by_id(records: Sequence[DocumentIndex]) -> list[DocumentIndex]:
    return sorted(records, key=lambda record: record.doc_id)


def _counts(records: Sequence[DocumentIndex]) -> dict[str, int]:
    return {
        "documents": len(records),
        "chunks": sum(len(r.chunks) for r in records),
        "sentences": sum(len(r.sentences) for r in records),
        "clauses": sum(len(parts) for r in records for parts in r.clauses),
    }


Row = tuple[str, np.ndarray, str, dict]  # id, vector, text, metadata


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Consecutive lists of `size` rows (the last may be shorter)."""
    while batch := list(itertools.islice(rows, size)):
        yield batch


def _rows(records: Sequence[DocumentIndex], kind: str) -> Iterator[Row]:
    """The rows of one kind ("documents", "chunks", "sentences", "clauses") for `records`."""
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


def _document_vector(chunk_vectors: np.ndarray, width: int) -> np.ndarray:
    """A document's row vector: the normalised mean of its chunks' (a fixed unit vector for
    a document without text, since Chroma needs one)."""
    if not len(chunk_vectors):
        unit = np.zeros(width, dtype=np.float32)
        unit[0] = 1.0
        return unit
    mean = chunk_vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _read_all(collection, with_vectors: bool) -> dict[str, list]:
    include = ["metadatas", "documents", *(["embeddings"] if with_vectors else [])]
    rows: dict[str, list] = {"ids": [], "metadatas": [], "documents": [], "embeddings": []}
    offset = 0
    while True:
        got = collection.get(include=include, limit=_READ_BATCH, offset=offset)
        if not got["ids"]:
            return rows
        rows["ids"] += got["ids"]
        rows["metadatas"] += got["metadatas"]
        rows["documents"] += got["documents"]
        if with_vectors:
            rows["embeddings"] += list(got["embeddings"])
        offset += len(got["ids"])


def _records(rows: dict[str, dict[str, list]]) -> list[DocumentIndex]:
    """The records stored rows describe, documents in id order; a DamagedIndex when rows
    disagree with each other."""
    by_doc: dict[str, dict[str, list]] = {}
    for kind in KINDS[1:]:
        table = rows[kind]
        for metadata, text, vector in zip(
            table["metadatas"], table["documents"], table["embeddings"], strict=True
        ):
            by_doc.setdefault(metadata["doc_id"], {k: [] for k in KINDS[1:]})[kind].append(
                (metadata, text, vector)
            )
    records = []
    for metadata, text in sorted(
        zip(rows["documents"]["metadatas"], rows["documents"]["documents"], strict=True),
        key=lambda row: row[0]["doc_id"],
    ):
        doc_id = metadata["doc_id"]
        document = Document(
            doc_id,
            text,
            pages=tuple(json.loads(metadata["pages"])),
            headings=tuple(tuple(pair) for pair in json.loads(metadata["headings"])),
        )
        own = by_doc.pop(doc_id, {k: [] for k in KINDS[1:]})
        records.append(_record(document, metadata["hash"], own))
    if by_doc:
        raise DamagedIndex(f"rows of documents it does not list ({sorted(by_doc)[0]})")
    return records


def _record(document: Document, digest: str, own: dict[str, list]) -> DocumentIndex:
    text = document.text

    def span(metadata: dict, stored: str) -> Span:
        found = Span(document.doc_id, metadata["start"], metadata["end"], stored)
        if text[found.start : found.end] != stored:
            raise DamagedIndex(f"a stored span of {document.doc_id} does not match its text")
        return found

    sentence_rows = sorted(own["sentences"], key=lambda row: row[0]["start"])
    sentences = tuple(span(m, t) for m, t, _v in sentence_rows)
    width = len(sentence_rows[0][2]) if sentence_rows else 0
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


def _collection_names(client) -> list[str]:
    return [getattr(item, "name", item) for item in client.list_collections()]


def _is_missing(error: Exception) -> bool:
    return type(error).__name__ == "NotFoundError" or "does not exist" in str(error)


def _is_connection(error: BaseException) -> bool:
    """Whether `error` means the Chroma server could not be reached."""
    seen: BaseException | None = error
    while seen is not None:
        name = type(seen).__name__
        module = type(seen).__module__
        if isinstance(seen, ConnectionError | TimeoutError) or module.startswith(
            ("httpx", "httpcore")
        ):
            return True
        if "Could not connect to a Chroma server" in str(seen) or name in (
            "ConnectError",
            "RemoteProtocolError",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_unreadable_database(error: Exception) -> bool:
    text = str(error).lower()
    return any(
        sign in text
        for sign in ("file is not a database", "malformed", "database disk image", "not a database")
    )


def _brief(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
