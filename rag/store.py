"""The Chroma index: the derived records of rag.indexing, saved as generations.

A generation is four collections (documents, chunks, sentences, clauses) named
`<collection>-g<N>-<kind>`; a fifth, `<collection>-live`, names the generation being served
in its metadata, with the fingerprint of what shaped it and its row counts. A build writes a
whole new generation beside the live one and switches the pointer only when it is complete,
then drops the old one: a build killed half way leaves the previous generation serving. The
same code runs on an embedded index (`index_dir/chroma`) and on a Chroma server.

Damage is proven, never assumed: rows that disagree with the pointer's counts, or a database
file SQLite cannot read. A bad setting, a permission problem or an unreachable server is
reported as what it is and deletes nothing; so is a full disk, after the half-written
generation is removed.

Whether anything changed is found without the writer lock, so answering never waits for a
writer and a read-only index answers; the lock is taken only to write.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from rag.answer_types import phrases_from_json, phrases_to_json
from rag.documents import Skipped, Stamp, content_hash, describe_skipped
from rag.embeddings import SentenceEmbeddings
from rag.errors import StoreError
from rag.indexing import DocumentIndex, derive, fingerprint
from rag.retrieval import Corpus, SentenceRow
from rag.settings import Settings
from rag.tables import BUILD_ID, DamagedTables, Tables, build_tables
from rag.types import Chunk, Document, Span

if TYPE_CHECKING:
    import chromadb
    from langchain_chroma import Chroma

log = logging.getLogger(__name__)

KINDS = ("documents", "chunks", "sentences", "clauses")
_WRITE_BATCH = 1000  # rows per Chroma write
_READ_BATCH = 5000  # rows per Chroma read
_LOCK_WAIT_S = 600  # how long a second `docqa index` waits for the first
_LOCK_POLL_S = 0.5  # how often a waiting writer looks at the lock again
_BEAT_S = 5.0  # how often the holder of a server lock renews its beat
_STALE_LOCK_S = 30.0  # a server lock whose beat has not moved for this long lost its holder
_RETRY_PAUSES_S = (0.3, 1.0, 3.0)  # backoff while a Chroma server does not answer
_SQLITE_WAIT_S = 30  # how long compaction waits for readers of the embedded database
# What a child process does to the embedded database (see Store._sqlite): stdlib only, so it
# starts in a few milliseconds. argv: command, the Chroma folder, then the command's own.
_SQLITE_CHILD = f"""
import contextlib, json, shutil, sqlite3, sys, uuid
from pathlib import Path

command, folder, names = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
database = folder / "chroma.sqlite3"
if command == "segments":
    marks = ", ".join("?" * len(names))
    with contextlib.closing(sqlite3.connect(database.as_uri() + "?mode=ro", uri=True,
                                            timeout={_SQLITE_WAIT_S})) as db:
        rows = db.execute(
            "SELECT segments.id FROM segments JOIN collections ON segments.collection = "
            f"collections.id WHERE collections.name IN ({{marks}})", names).fetchall()
    print(json.dumps([str(row[0]) for row in rows]))
elif command == "compact":
    with contextlib.closing(sqlite3.connect(database, timeout={_SQLITE_WAIT_S},
                                            isolation_level=None)) as db:
        used = {{str(row[0]) for row in db.execute("SELECT id FROM segments")}}
        for path in folder.iterdir():
            try:
                named = str(uuid.UUID(path.name)) == path.name
            except ValueError:
                named = False
            if path.is_dir() and named and path.name not in used:
                shutil.rmtree(path, ignore_errors=True)
        db.execute("INSERT INTO embedding_fulltext_search(embedding_fulltext_search) "
                   "VALUES ('optimize')")
        db.execute("VACUUM")
else:
    sys.exit(f"unknown command {{command}}")
"""
# With less free than this, Chroma's failure to write ("Error in compaction") is a full disk.
_NEARLY_FULL_BYTES = 64 * 1024 * 1024
_OUT_OF_SPACE = ("no space left", "database or disk is full", "disk full", "disk quota")


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
    # documents that could not be indexed as they are now: doc_id -> (content hash, reason)
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)
    build: str = ""  # unique to the write that made the generation: names its tables


@dataclass(frozen=True)
class _Plan:
    """What a sync has to do, found by reading the live generation."""

    documents: Sequence[Document]  # the files read this time
    unchanged: Sequence[str]  # files not read: their stamps say they are as indexed
    wanted: str  # the fingerprint of the data these settings derive
    live: Live | None
    listed: dict[str, tuple[str, Stamp | None]]  # the live documents: doc_id -> hash, stamp
    kept: dict[str, DocumentIndex]  # the live generation's records (read only to write)
    recovered: str  # why the live generation is damaged, or ""
    hashes: dict[str, str]  # doc_id -> content hash, for `documents` and `unchanged`
    changed: list[Document]  # not listed as they are now
    held: list[str]  # unreadable now: the copy listed stays
    removed: list[str]
    known: dict[str, str]  # doc_id -> reason: changed, but failed before exactly as they are

    @property
    def current(self) -> bool:
        """Whether the live generation was derived as these settings derive, and loads."""
        return self.live is not None and self.live.fingerprint == self.wanted and not self.recovered

    @property
    def work(self) -> bool:
        """Whether anything must be written."""
        return (
            not self.current
            or bool(self.removed)
            or any(document.doc_id not in self.known for document in self.changed)
            or set(self.live.failed) != set(self.known)  # forget failures of files now gone
        )


@dataclass
class _Hold:
    """The writer lock, as held: `lost` turns True when another writer took it over."""

    lost: bool = False


class DamagedIndex(Exception):
    """Proof that the stored index is damaged (internal: sync rebuilds it)."""


class ReadEveryFile(Exception):
    """A sync given unchanged files it cannot carry over (the live generation is damaged or
    moved on): read every file and sync again (internal: DocQA.index does)."""


class Store:
    """The index for one settings object; the client is opened lazily, once."""

    def __init__(self, settings: Settings, embeddings: SentenceEmbeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self._client: chromadb.ClientAPI | None = None
        self._lock = threading.RLock()  # one sync (or open, or load) at a time
        # The client and the vector stores have a lock of their own: a reader never waits
        # for a whole sync.
        self._client_lock = threading.RLock()
        self._vectorstores: dict[int, Chroma] = {}  # generation -> its chunks' vector store
        self._served = 0  # the generation dense_search reads by default
        # Generations this process reads (an answer under way, a corpus being served) are
        # never dropped under it: a writer leaves them, and the last reader drops them.
        self._readers: dict[int, int] = {}
        self._readers_lock = threading.Lock()
        self._read_only_copy: Path | None = None
        self._listing: tuple[Live, bool, dict[str, tuple[str, Stamp | None]]] | None = None
        self._full_note: dict | None = None  # a full disk noted where the note failed

    # -- the public operations -----------------------------------------------------------

    def sync(
        self,
        documents: Sequence[Document],
        progress: bool = False,
        unreadable: Collection[str] = (),
        on_progress: Callable[[int, int], None] | None = None,
        unchanged: Collection[str] = (),
        stamps: Mapping[str, Stamp] | None = None,
        verify: bool = True,
        answering: bool = False,
    ) -> IndexReport:
        """Make the live generation hold exactly `documents` and the `unchanged` files (not
        read, as indexed), deriving only what changed; returns what it did. A file in
        `unreadable` (there, but skipped this time) keeps the copy indexed before, if there
        is one: nothing already indexed is lost to a file that cannot be read for a while; so
        does a document that fails to be derived (reported in `skipped`). `stamps` are the
        files' stamps as read, kept with their rows. `on_progress(done, total)` follows the
        sentences being embedded. Without `verify`, an unchanged index is trusted without
        counting every kind's rows (what a serving process does at start; `docqa index`
        counts them). With `answering` (a question's, not `docqa index`'s), a change found
        while a build has found the disk full, and it has no more room since, is left for
        `docqa index`: the live generation serves as it is. Raises ReadEveryFile when
        `unchanged` cannot be trusted."""
        with self._lock, self._errors("write"):
            try:
                plan = self._plan(documents, unreadable, unchanged, verify=verify)
            except ReadEveryFile:
                raise
            except Exception as error:
                if _is_connection(error):
                    raise
                # Read while a writer dropped the generation being read, or held the
                # database for a moment: look again under the lock, where nothing moves.
                log.debug("reading the index without the lock failed", exc_info=True)
                plan = None
            if plan is not None and not plan.work:  # readers never wait for a writer
                self._restamp(plan, stamps or {})
                return self._unchanged(plan)
            if answering and plan is not None and plan.current and (full := self._still_full()):
                log.warning(
                    "the sources changed, but %s: answering from the index built before",
                    full,
                )
                return self._unchanged(plan)
            with self._writer() as hold:
                plan = self._plan(documents, unreadable, unchanged, load=True)
                if not plan.work:  # a writer may have finished meanwhile
                    return self._unchanged(plan)
                if plan.recovered:
                    log.warning(
                        "the index at %s is damaged (%s); rebuilding it beside the damaged one",
                        self._where(),
                        plan.recovered,
                    )
                return self._build(plan, hold, progress, on_progress, stamps or {})

    def _restamp(self, plan: _Plan, stamps: Mapping[str, Stamp]) -> None:
        """Record the new stamps of files read again but found as indexed (touched, copied,
        checked out), so the next sync need not read them; only when an embedded index's
        writer lock is free at once: this is never worth waiting for."""
        assert plan.live is not None
        fresh = {
            d.doc_id: stamps[d.doc_id]
            for d in plan.documents
            if d.doc_id in stamps
            and d.doc_id in plan.listed
            and plan.listed[d.doc_id][0] == plan.hashes[d.doc_id]
            and plan.listed[d.doc_id][1] != stamps[d.doc_id]
        }
        if not fresh or self.settings.chroma_host:
            return
        import fcntl

        try:
            with (self.settings.index_dir / "index.lock").open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                try:
                    if self._live() != plan.live:
                        return  # a writer moved on: its rows are not these
                    name = self._name(plan.live.generation, "documents")
                    documents = self._open_client().get_collection(name)
                    rows = documents.get(ids=list(fresh), include=["metadatas"])
                    documents.update(
                        ids=rows["ids"],
                        metadatas=[
                            {**metadata, **_stamp_metadata(fresh[id_])}
                            for id_, metadata in zip(rows["ids"], rows["metadatas"], strict=True)
                        ],
                    )
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        except Exception:  # busy, read-only, or anything else: the files are read next time
            log.debug("could not record the files' new stamps", exc_info=True)

    def stamps(self, verify: bool = True) -> dict[str, Stamp]:
        """The stamps of the live documents' files as they were read, when the live
        generation was derived as these settings derive ({} otherwise, or when there is no
        index yet): a file whose stamp still holds need not be read again. `verify` as for
        `sync`."""
        with self._lock, self._errors("read"):
            try:
                live = self._live()
                if live is None or live.fingerprint != fingerprint(self.settings):
                    return {}
                listed = self._listed(live, verify)
            except Exception as error:
                if _is_connection(error):
                    raise
                log.debug("reading the index's stamps failed", exc_info=True)
                return {}  # damaged, or a writer moved on: every file is read
            self._listing = (live, verify, listed)  # the sync that follows reads them once
            return {doc_id: stamp for doc_id, (_h, stamp) in listed.items() if stamp is not None}

    def _plan(
        self,
        documents: Sequence[Document],
        unreadable: Collection[str],
        unchanged: Collection[str],
        load: bool = False,
        verify: bool = True,
    ) -> _Plan:
        """What syncing takes. Without `load` it reads only the live documents' rows (and
        counts every kind's): enough to tell whether anything changed. With it, it loads and
        checks every record, which a write carries over."""
        wanted = fingerprint(self.settings)
        live = self._live()
        listed: dict[str, tuple[str, Stamp | None]] = {}
        kept: dict[str, DocumentIndex] = {}
        recovered = ""
        # The listing `stamps` just read serves once, for the same generation.
        earlier, self._listing = self._listing, None
        if live is not None and live.fingerprint == wanted:
            try:
                fresh = earlier and earlier[0] == live and (earlier[1] or not verify)
                # With `load`, every record is read and checked below: no need to count twice.
                listed = earlier[2] if fresh else self._listed(live, verify and not load)
                if load:
                    kept = {record.doc_id: record for record in self._load(live)}
            except DamagedIndex as damage:
                recovered, listed, kept = str(damage), {}, {}
        if unchanged and (recovered or not set(unchanged) <= set(listed)):
            raise ReadEveryFile(recovered or "the index changed while the files were listed")
        hashes = {document.doc_id: content_hash(document) for document in documents}
        hashes |= {doc_id: listed[doc_id][0] for doc_id in unchanged}
        held = sorted(set(unreadable) & set(listed) - set(hashes))
        current = live is not None and live.fingerprint == wanted and not recovered
        return _Plan(
            documents=documents,
            unchanged=tuple(unchanged),
            wanted=wanted,
            live=live,
            listed=listed,
            kept=kept,
            recovered=recovered,
            hashes=hashes,
            changed=[
                document
                for document in documents
                if document.doc_id not in listed
                or listed[document.doc_id][0] != hashes[document.doc_id]
            ],
            held=held,
            removed=sorted(set(listed) - set(hashes) - set(held)),
            known={
                doc_id: reason
                for doc_id, (digest, reason) in (live.failed if live and current else {}).items()
                if hashes.get(doc_id) == digest
            },
        )

    def _unchanged(self, plan: _Plan) -> IndexReport:
        """The live generation, served as it is."""
        assert plan.live is not None
        counts = plan.live.counts
        held = sorted({*plan.held, *(doc_id for doc_id in plan.known if doc_id in plan.listed)})
        skipped = tuple(Skipped(doc_id, reason) for doc_id, reason in sorted(plan.known.items()))
        self._serve(plan.live.generation)
        return IndexReport(
            documents=counts["documents"],
            chunks=counts["chunks"],
            sentences=counts["sentences"],
            clauses=counts["clauses"],
            embedded=0,
            generation=plan.live.generation,
            held=tuple(held),
            skipped=skipped,
        )

    def _build(
        self,
        plan: _Plan,
        hold: _Hold,
        progress: bool,
        on_progress: Callable[[int, int], None] | None,
        stamps: Mapping[str, Stamp],
    ) -> IndexReport:
        """Derive what changed and write it as a new generation (or, when every change
        failed, keep the live one and remember why)."""
        derived, failures = derive(
            plan.changed, self.settings, self.embeddings, progress, on_progress
        )
        fresh = {record.doc_id: record for record in derived}
        kept = plan.kept
        records = _by_id(
            [
                fresh.get(d.doc_id) or kept[d.doc_id]
                for d in plan.documents
                if d.doc_id in fresh or d.doc_id in kept
            ]
            + [kept[doc_id] for doc_id in (*plan.unchanged, *plan.held)]
        )
        if not records:
            raise StoreError(
                f"no document could be indexed ({describe_skipped(failures)}): fix or remove "
                "those files and run `docqa index` again"
            )
        failed = {item.name: (plan.hashes[item.name], item.reason) for item in failures}
        held = sorted({*plan.held, *(doc_id for doc_id in failed if doc_id in kept)})
        # A file read this time gets its new stamp; one carried over keeps the one it had.
        old = {doc_id: stamp for doc_id, (_h, stamp) in plan.listed.items() if stamp}
        written = {
            **old,
            **{d.doc_id: stamps[d.doc_id] for d in plan.documents if d.doc_id in stamps},
        }
        if plan.current and not fresh and not plan.removed:
            assert plan.live is not None  # only failures: the live generation stays as it is
            generation = plan.live.generation
            self._point(generation, plan.wanted, records, failed, plan.live.build)
        else:
            generation = self._next_generation(plan.live)
            live = plan.live.generation if plan.live else 0
            self._switch(generation, live, plan.wanted, records, failed, hold, written)
        self._serve(generation)
        report = self._report(
            records,
            sum(len(record.sentences) for record in derived),
            tuple(d.doc_id for d in plan.changed if d.doc_id in fresh),
            tuple(plan.removed),
            plan.recovered,
            generation,
            held,
        )
        return replace(report, skipped=failures)

    def _switch(
        self,
        generation: int,
        live: int,
        wanted: str,
        records: Sequence[DocumentIndex],
        failed: dict[str, tuple[str, str]],
        hold: _Hold,
        stamps: Mapping[str, Stamp],
    ) -> None:
        """Write `records` as `generation` beside the `live` one, point the index at it, drop
        the others. A write that fails removes what it wrote: `live` goes on serving."""
        try:
            if self._drop_all_but(generation, live):  # leftovers of builds that died
                self._compact()  # room for this one
            self._write(generation, records, stamps)
            build = uuid.uuid4().hex
            self._save_tables(build, build_tables(records))
            if hold.lost:
                raise StoreError(
                    f"another docqa took over the index lock on {self._where()} while this one "
                    "was writing (this one stopped renewing it): run `docqa index` again"
                )
            self._point(generation, wanted, records, failed, build)
        except Exception as error:
            full = _out_of_space(error) or (
                "error in compaction" in str(error).lower()
                and self._free_bytes() < _NEARLY_FULL_BYTES
            )
            self._discard(generation)
            if full:
                self._note_full()  # after the discard: the room a build has
                raise self._full(error) from error
            raise
        self._full_note = None  # there was room after all
        with contextlib.suppress(OSError):
            self._full_marker().unlink(missing_ok=True)
        self._serve(generation)  # before the drop: a reader holds the live one from now
        self._drop_all_but(generation)
        self._prune_tables(build)
        self._compact()

    def open_corpus(self) -> Corpus:
        """The live generation for retrieval: its tables (read from the folder the build saved
        them in and checked, or derived from its records where this machine has none or they
        fail their check, and saved there) and its rows, fetched by id from the index. A
        StoreError when there is no index yet, or it is damaged."""
        with self._lock, self._errors("read"):
            live = self._live()
            if live is None:
                raise StoreError(f"there is no index at {self._where()} yet: run `docqa index`")
            tables = None
            if live.build:
                folder = self._tables_folder(live.build)
                try:
                    tables = Tables.load(folder, live.counts)
                except DamagedTables as damage:
                    if folder.exists():  # absent: a machine of its own derives them quietly
                        log.warning(
                            "the serving tables at %s were damaged (%s): derived them again "
                            "from the index",
                            folder,
                            damage,
                        )
            if tables is None:
                live, records = self._load_live()
                tables = build_tables(records)
                if live.build:
                    self._save_tables(live.build, tables)
            self._serve(live.generation)
            return Corpus.open(tables, ChromaRows(self, live.generation))

    def _tables_folder(self, build: str) -> Path:
        """The folder of a build's serving tables, inside `index_dir/serving`: `build` is
        data from the pointer, so it must be a build id (ValueError otherwise)."""
        if not BUILD_ID.fullmatch(build):
            raise ValueError(f"{build!r} is not a build id")
        serving = self.settings.index_dir / "serving"
        folder = serving / f"{self.settings.collection}-{build}"
        assert folder.parent == serving and folder.name not in ("", ".", "..")
        return folder

    def _save_tables(self, build: str, tables: Tables) -> None:
        """Save a generation's tables where its servers find them (they go on serving from
        memory when the folder cannot be written)."""
        folder = self._tables_folder(build)
        try:
            tables.save(folder)
        except OSError as error:
            log.info("could not save the serving tables at %s (%s)", folder, _brief(error))

    def _prune_tables(self, build: str) -> None:
        """Remove the tables of generations other than `build`'s, and what saves that died
        left (a process serving one holds it in memory: it never reads the files again)."""
        keep = self._tables_folder(build).name
        serving = self.settings.index_dir / "serving"
        # This collection's folders (and a save's temporary ones), never those of a
        # collection whose name only begins like this one's.
        ours = re.compile(
            rf"(\.)?{re.escape(self.settings.collection)}-{BUILD_ID.pattern}(?(1)-.+)"
        )
        with contextlib.suppress(OSError):
            for folder in serving.iterdir():
                if ours.fullmatch(folder.name) and folder.name != keep:
                    shutil.rmtree(folder, ignore_errors=True)

    def load(self) -> list[DocumentIndex]:
        """The records of the live generation; a StoreError when there is none yet."""
        with self._lock, self._errors("read"):
            live, records = self._load_live()
            self._serve(live.generation)
            return records

    def _load_live(self) -> tuple[Live, list[DocumentIndex]]:
        """The live generation and its records, checked; a StoreError when there is none or
        it is damaged."""
        live = self._live()
        while True:
            if live is None:
                raise StoreError(f"there is no index at {self._where()} yet: run `docqa index`")
            try:
                return live, self._load(live)
            except DamagedIndex as damage:
                if (newer := self._live()) != live:  # a writer switched meanwhile
                    live = newer
                    continue
                raise StoreError(
                    f"the index at {self._where()} is damaged ({damage}): run `docqa "
                    "index` to rebuild it"
                ) from None

    def live_generation(self) -> int:
        """The generation the index serves now (0 when it has none): a serving process that
        loaded an older one reloads. Never waits for a sync of this process."""
        with self._errors("read"):
            live = self._live()
            return live.generation if live else 0

    @property
    def served_generation(self) -> int:
        """The generation this store's dense search reads."""
        return self._served

    def hold(self, generation: int) -> bool:
        """Mark `generation` as read by this process, so no sync of this store drops it
        until `release`; False when it is no longer there to hold (dropped, or being
        dropped): read the live one instead."""
        with self._readers_lock:
            if generation in self._readers:
                self._readers[generation] += 1
                return True
            if generation != self._served:  # neither held nor served: it may be gone
                return False
            self._readers[generation] = 1
            return True

    def release(self, generation: int) -> None:
        """The end of a `hold`; the last reader of a generation that is no longer live
        drops it, when no writer is busy (else the next sync drops it)."""
        with self._readers_lock:
            left = self._readers.get(generation, 0) - 1
            if left > 0:
                self._readers[generation] = left
                return
            self._readers.pop(generation, None)
        if generation != self._served:
            self._drop_released()

    def _drop_released(self) -> None:
        """Drop the generations no reader of this process holds any more, other than the
        live one: only when neither this process nor another is writing (never waited for)."""
        if self.settings.chroma_host or not self._lock.acquire(blocking=False):
            return
        try:
            import fcntl

            with (self.settings.index_dir / "index.lock").open("a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return  # a writer is busy: it drops them
                try:
                    live = self._live()
                    if live is not None and self._drop_all_but(live.generation):
                        self._compact()
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        except Exception:  # the next sync drops them
            log.debug("could not drop the generations no reader holds", exc_info=True)
        finally:
            self._lock.release()

    def dense_search(self, vector: list[float], k: int, generation: int = 0) -> list[str]:
        """The ids of the `k` chunks of `generation` (by default the served one) closest to
        `vector`, best first."""
        with self._errors("search"):
            hits = self._retrying(
                self.vectorstore(generation).similarity_search_by_vector_with_relevance_scores,
                vector,
                k=k,
            )
        return [doc.id for doc, _distance in hits]  # rows are stored under Chunk.id

    def vectorstore(self, generation: int = 0) -> Chroma:
        """A generation's chunk collection (by default the served one's) as a LangChain
        vector store."""
        if not generation:
            if not self._served:
                self._served = self.live_generation()
            generation = self._served
        with self._client_lock:
            if generation not in self._vectorstores:
                from langchain_chroma import Chroma

                self._vectorstores[generation] = Chroma(
                    collection_name=self._name(generation, "chunks"),
                    embedding_function=self.embeddings,
                    client=self._open_client(),
                    create_collection_if_not_exists=False,
                )
            return self._vectorstores[generation]

    def close(self) -> None:
        """Forget the client, so the next use opens the index afresh."""
        with self._lock, self._client_lock:
            self._client = None
            self._vectorstores.clear()
            self._served = 0
            import chromadb

            chromadb.api.client.SharedSystemClient.clear_system_cache()

    # -- reading -------------------------------------------------------------------------

    _bad_builds: ClassVar[set[str]] = set()  # pointer build fields warned of, once each

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
        try:
            failed = {
                str(doc_id): (str(digest), str(reason))
                for doc_id, (digest, reason) in json.loads(str(meta.get("failed", "{}"))).items()
            }
        except (ValueError, TypeError, AttributeError):
            failed = {}  # unreadable: those documents are simply tried again
        build, shaped = str(meta.get("build", "")), str(meta.get("fingerprint", ""))
        if build and not BUILD_ID.fullmatch(build):
            # The pointer's fields are data, never a path: a build id that is not one is
            # damage. No fingerprint matches "", so the next sync rebuilds the generation
            # (with a new build id), and nothing is ever joined to a path from it.
            if build not in Store._bad_builds:
                Store._bad_builds.add(build)
                log.warning(
                    "the index at %s names its serving tables %r, which is not a build id: "
                    "it is damaged, and is rebuilt",
                    self._where(),
                    build[:80],
                )
            build, shaped = "", ""
        return Live(
            int(meta["generation"]),
            shaped,
            {kind: int(meta.get(kind, -1)) for kind in KINDS},
            failed,
            build,
        )

    def _listed(self, live: Live, verify: bool = True) -> dict[str, tuple[str, Stamp | None]]:
        """The live documents (doc_id -> content hash, stamp), read from their rows alone,
        after every kind's row count is checked against the pointer's (with `verify`; the
        documents' always are)."""
        for kind in KINDS if verify else ("documents",):
            collection = self._stored(live, kind)
            _check_count(live, kind, collection.name, collection.count())
        documents = self._stored(live, "documents")
        listed = {}
        offset = 0
        while True:
            got = documents.get(include=["metadatas"], limit=_READ_BATCH, offset=offset)
            if not got["ids"]:
                return listed
            for metadata in got["metadatas"]:
                try:
                    _document(metadata, "")  # a row no build can read is damage
                    listed[str(metadata["doc_id"])] = (str(metadata["hash"]), _stamp(metadata))
                except (ValueError, KeyError, TypeError) as error:
                    raise DamagedIndex(f"its rows cannot be read ({_brief(error)})") from None
            offset += len(got["ids"])

    def _stored(self, live: Live, kind: str):
        """The collection of one kind of a generation; DamagedIndex when it is missing."""
        try:
            return self._open_client().get_collection(self._name(live.generation, kind))
        except Exception as error:
            if _is_missing(error):
                raise DamagedIndex(f"its {kind} collection is missing") from None
            raise

    def _load(self, live: Live) -> list[DocumentIndex]:
        """Every record of a generation, checked against the pointer's counts."""
        rows = {}
        for kind in KINDS:
            collection = self._stored(live, kind)
            rows[kind] = _read_all(collection)
            _check_count(live, kind, collection.name, len(rows[kind]["ids"]))
        if rows["chunks"]["ids"]:  # querying with a stored vector proves the vector file loads
            chunks = self._open_client().get_collection(self._name(live.generation, "chunks"))
            try:
                chunks.query(query_embeddings=[rows["chunks"]["embeddings"][0]], n_results=1)
            except Exception as error:
                if _is_connection(error):
                    raise
                raise DamagedIndex(f"its vector index cannot be searched ({error})") from None
        try:
            return _records(rows)
        except DamagedIndex:
            raise
        except (ValueError, KeyError, TypeError, IndexError) as error:  # an older build's rows
            raise DamagedIndex(f"its rows cannot be read ({_brief(error)})") from None

    # -- writing -------------------------------------------------------------------------

    def _write(
        self, generation: int, records: Sequence[DocumentIndex], stamps: Mapping[str, Stamp]
    ) -> None:
        client = self._open_client()
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
            for batch in _batches(_rows(records, kind, stamps), _WRITE_BATCH):
                ids, vectors, texts, metadatas = zip(*batch, strict=True)
                self._retrying(
                    made[kind].upsert,  # upsert: a retried write must not fail as a duplicate
                    ids=list(ids),
                    embeddings=np.asarray(vectors, dtype=np.float32),
                    documents=list(texts),
                    metadatas=list(metadatas),
                )

    def _point(
        self,
        generation: int,
        wanted: str,
        records: Sequence[DocumentIndex],
        failed: dict[str, tuple[str, str]],
        build: str,
    ) -> None:
        counts = _counts(records)
        pointer = self._open_client().get_or_create_collection(
            self._pointer_name(), embedding_function=None
        )
        pointer.modify(
            metadata={
                "generation": generation,
                "fingerprint": wanted,
                **counts,
                "failed": json.dumps(failed),
                "build": build,
            }
        )

    def _generations(self) -> dict[str, int]:
        """This index's collections and the generation of each (0: an older format's)."""
        ours = re.compile(
            rf"{re.escape(self.settings.collection)}-(?:g(\d+)-)?(?:{'|'.join(KINDS)})"
        )
        found = {}
        for name in _collection_names(self._open_client()):
            if match := ours.fullmatch(name):
                found[name] = int(match.group(1) or 0)
        return found

    def _drop_all_but(self, *generations: int) -> bool:
        """Drop every other generation of this index (and collections of older formats);
        whether there was any."""
        client = self._open_client()
        with self._readers_lock:  # a generation this process reads stays until released
            keep = {*generations, *self._readers}
            others = [name for name, number in self._generations().items() if number not in keep]
            for number in {self._generations().get(name, 0) for name in others}:
                self._vectorstores.pop(number, None)
        for name in others:
            with contextlib.suppress(Exception):
                client.delete_collection(name)
        return bool(others)

    def _discard(self, generation: int) -> None:
        """Remove what a failed build wrote as `generation`, unless it went live after all
        (a pointer switch whose answer was lost)."""
        with contextlib.suppress(Exception):
            live = self._live()
            if live is not None and live.generation == generation:
                return
            names = [self._name(generation, kind) for kind in KINDS]
            # Their vector folders go first: on a full disk, SQLite needs room to delete.
            for segment in self._segments(names):
                shutil.rmtree(self.chroma_path / segment, ignore_errors=True)
            client = self._open_client()
            for name in names:
                with contextlib.suppress(Exception):
                    client.delete_collection(name)
        self._compact()

    def _segments(self, names: Sequence[str]) -> list[str]:
        """The ids of the embedded index's segments (each a folder of vectors, once it has
        any) of the collections called `names`."""
        if self.settings.chroma_host:
            return []
        return json.loads(self._sqlite("segments", *names))

    def _compact(self) -> None:
        """Give the space of dropped collections back: Chroma leaves the folders of their
        vectors behind, and SQLite keeps freed pages (and full-text index entries) in its
        file. Only for an embedded index; nothing live is touched, and a failure leaves the
        index intact, only larger."""
        if self.settings.chroma_host:
            return
        try:
            self._sqlite("compact")
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
            log.info("could not compact the index at %s (%s)", self._where(), _brief(error))

    def _sqlite(self, command: str, *args: str) -> str:
        """Run `command` of _SQLITE_CHILD on the embedded database in a process of its own,
        and return what it printed. Never in this one: Chroma's own SQLite (a library of its
        own) has the file open here, and POSIX locks do not exclude two connections of one
        process, so a second connection here would write beside Chroma's, and closing it
        would drop Chroma's locks. A RuntimeError says why it failed."""
        done = subprocess.run(
            [sys.executable, "-I", "-c", _SQLITE_CHILD, command, str(self.chroma_path), *args],
            capture_output=True,
            text=True,
            timeout=_SQLITE_WAIT_S * 4,
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")
        return done.stdout

    def _next_generation(self, live: Live | None) -> int:
        """A number above the live generation's and every leftover's."""
        return max([live.generation if live else 0, *self._generations().values()]) + 1

    def _serve(self, generation: int) -> None:
        self._served = generation

    def _report(
        self,
        records: Sequence[DocumentIndex],
        embedded: int,
        changed: tuple[str, ...],
        removed: tuple[str, ...],
        recovered: str,
        generation: int,
        held: Sequence[str],
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
        with self._client_lock:
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
                    path = self._embedded_path()
                    try:
                        self._client = chromadb.PersistentClient(
                            path=str(path), settings=chroma_settings
                        )
                    except Exception as error:
                        # Chroma caches the system that failed to start: the next open
                        # would reuse it, half made.
                        chromadb.api.client.SharedSystemClient.clear_system_cache()
                        if not _is_unreadable_database(error):
                            raise
                        self._set_aside(error)
                        self._client = chromadb.PersistentClient(
                            path=str(self.chroma_path), settings=chroma_settings
                        )
            return self._client

    def _embedded_path(self) -> Path:
        """Where the embedded index is opened: its folder, or for a read-only one a private
        copy (Chroma writes to its database as it opens it), which is only read: a write
        takes the lock in the read-only folder first, and is refused there."""
        path = self.chroma_path
        if not path.is_dir() or _writable(path):
            path.mkdir(parents=True, exist_ok=True)
            return path
        if self._read_only_copy is None:
            copy = Path(tempfile.mkdtemp(prefix="docqa-read-only-")) / "chroma"
            shutil.copytree(path, copy)
            weakref.finalize(self, shutil.rmtree, copy.parent, ignore_errors=True)
            log.info("the index at %s is read-only: answering from a copy at %s", path, copy)
            self._read_only_copy = copy
        return self._read_only_copy

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
    def _writer(self) -> Iterator[_Hold]:
        """One writer at a time: a file lock beside an embedded index, a lock collection on
        a Chroma server."""
        if self.settings.chroma_host:
            with self._server_writer() as hold:
                yield hold
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
                yield _Hold()  # the kernel drops the lock of a process that dies
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _server_writer(self) -> Iterator[_Hold]:
        """One writer at a time on a Chroma server: the writer holds a lock collection,
        `<collection>-writer`, whose `beat` it renews every _BEAT_S from a thread of its own;
        creating it fails while another holds it. A lock whose beat has not moved for
        _STALE_LOCK_S lost its writer (killed, or cut off): it is taken over."""
        client = self._retrying(self._open_client)
        name = f"{self.settings.collection}-writer"
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        lock = self._take_server_lock(client, name, token)
        hold, stop = _Hold(), threading.Event()
        beat = threading.Thread(
            target=_renew, args=(lock, token, hold, stop), name="docqa-index-lock", daemon=True
        )
        beat.start()
        try:
            yield hold
        finally:
            stop.set()
            beat.join()
            _remove_collection(client, lock)

    def _take_server_lock(self, client, name: str, token: str):
        """The lock collection, once this process has created it."""
        deadline = time.monotonic() + _LOCK_WAIT_S
        seen, since, waiting = None, 0.0, False
        while True:
            try:
                return client.create_collection(
                    name, metadata={"by": token, "beat": time.time()}, embedding_function=None
                )
            except Exception as error:
                if _is_connection(error) or "already exists" not in str(error):
                    raise
            try:
                held = self._retrying(client.get_collection, name)
            except Exception as error:
                if _is_missing(error):
                    continue  # released meanwhile
                raise
            meta = held.metadata or {}
            # subtle: staleness is timed on this machine's clock, from when the beat was
            # last seen to move, so clocks that disagree between machines do not matter.
            mark = (held.id, meta.get("beat", meta.get("since")))
            if mark != seen:
                seen, since = mark, time.monotonic()
            elif time.monotonic() - since > _STALE_LOCK_S:
                log.warning(
                    "taking over the index lock %s on %s: its holder (%s) has not renewed it "
                    "for %.0f s",
                    name,
                    self._where(),
                    meta.get("by", "?"),
                    _STALE_LOCK_S,
                )
                _remove_collection(client, held)
                continue
            if not waiting:
                log.warning(
                    "another docqa (%s) is writing the index on %s; waiting for it",
                    meta.get("by", "?"),
                    self._where(),
                )
                waiting = True
            if time.monotonic() > deadline:
                raise StoreError(
                    f"another docqa ({meta.get('by', '?')}) has been writing the index on "
                    f"{self._where()} for over {_LOCK_WAIT_S} s: wait for it to finish, or stop it"
                )
            time.sleep(_LOCK_POLL_S)

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
        except (StoreError, ReadEveryFile):
            raise
        except Exception as error:
            if _is_connection(error):
                self.close()
                raise StoreError(
                    f"cannot reach the Chroma server at {self._where()} ({_brief(error)}): "
                    "start it (`chroma run --path <folder> --port "
                    f"{self.settings.chroma_port}`) or fix DOCQA_CHROMA_HOST/DOCQA_CHROMA_PORT"
                ) from error
            if _out_of_space(error):
                raise self._full(error) from error
            if (
                isinstance(error, PermissionError)
                or getattr(error, "errno", None) == errno.EROFS
                or "readonly" in str(error).lower()
            ):
                raise StoreError(
                    f"cannot {doing} the index at {self._where()}: it is read-only or "
                    f"permission is denied ({_brief(error)}); make the folder writable or set "
                    "DOCQA_INDEX_DIR to one that is"
                ) from error
            raise StoreError(
                f"could not {doing} the index at {self._where()} ({_brief(error)}); run "
                "`docqa index` again, and if it fails again report it"
            ) from error

    def _full_marker(self) -> Path:
        """Where a build that found the disk full notes how much room it had."""
        return self.settings.index_dir / "full.json"

    def _note_full(self) -> None:
        """Note that a build found the disk full, and the room it had (in this process
        alone, where the note cannot be written)."""
        note = {"free": None if self.settings.chroma_host else self._free_bytes()}
        marker = self._full_marker()
        spare = marker.with_name(f".{marker.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        try:
            spare.write_text(json.dumps(note), encoding="utf-8")
            spare.replace(marker)
        except OSError as error:
            spare.unlink(missing_ok=True)
            self._full_note = note
            log.info("could not note the full disk at %s (%s)", marker, _brief(error))

    def _still_full(self) -> str:
        """Why a build would find the disk full again ("" when it might not): a build
        found it full, none has succeeded since, and there is no more room now than it had
        (by _NEARLY_FULL_BYTES)."""
        try:
            note = json.loads(self._full_marker().read_text(encoding="utf-8"))
        except FileNotFoundError:
            note = self._full_note
        except (OSError, ValueError):
            return ""  # unreadable: build, and find out
        if not isinstance(note, dict):
            return ""
        had = note.get("free")
        if self.settings.chroma_host or not isinstance(had, int):
            return f"the last build found no space left on {self._where()}"
        free = self._free_bytes()
        if free >= had + _NEARLY_FULL_BYTES:
            return ""
        return (
            f"the last build found no space left on {self.settings.index_dir} "
            f"({_megabytes(free)} free now, {_megabytes(had)} then)"
        )

    def _full(self, error: BaseException) -> StoreError:
        where = (
            f"the Chroma server at {self._where()}"
            if self.settings.chroma_host
            else str(self.settings.index_dir)
        )
        return StoreError(
            f"no space left on {where} ({_brief(error)}): free some space there, or set "
            "DOCQA_INDEX_DIR to a disk with room, then run `docqa index` again; the index "
            "built before goes on serving"
        )

    def _free_bytes(self) -> int:
        """Free space where the embedded index lives (a server's is not known here)."""
        if self.settings.chroma_host:
            return _NEARLY_FULL_BYTES
        folder = self.settings.index_dir
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return shutil.disk_usage(folder).free

    def _name(self, generation: int, kind: str) -> str:
        return f"{self.settings.collection}-g{generation}-{kind}"

    def _pointer_name(self) -> str:
        return f"{self.settings.collection}-live"

    def _where(self) -> str:
        if self.settings.chroma_host:
            return f"{self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.chroma_path)


class ChromaRows:
    """A generation's rows fetched by id, and its vector searches, from the index (which
    runs them server-side when it is a Chroma server): what a serving process does not
    hold (rag.retrieval.Rows)."""

    def __init__(self, store: Store, generation: int) -> None:
        self._store = store
        self._generation = generation
        self._collections: dict[str, object] = {}

    def _get(self, kind: str, ids: Sequence[str]) -> dict[str, tuple[str, dict, np.ndarray]]:
        """id -> (text, metadata, vector) of the rows with these ids; a StoreError when one
        is missing (a writer dropped the generation, or it is damaged)."""
        if not ids:
            return {}
        include = ["documents", "metadatas", "embeddings"]
        with self._store._errors("read"):
            got = self._store._retrying(self._collection(kind).get, ids=list(ids), include=include)
        found = {
            id_: (text, metadata, vector)
            for id_, text, metadata, vector in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            )
        }
        if missing := set(ids) - set(found):
            raise StoreError(
                f"the index at {self._store._where()} no longer holds {sorted(missing)[0]} "
                "(it was rebuilt or damaged): ask again, or run `docqa index`"
            )
        return found

    def _collection(self, kind: str):
        if kind not in self._collections:
            client = self._store._open_client()
            name = self._store._name(self._generation, kind)
            self._collections[kind] = self._store._retrying(client.get_collection, name)
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
            id_: _document(meta, text)
            for id_, (text, meta, _vector) in self._get("documents", ids).items()
        }

    def nearest_sentences(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ids and cosines of the `k` sentences nearest `vector` (the index's HNSW)."""
        with self._store._errors("search"):
            got = self._store._retrying(
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


def _rows(
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
                    **_stamp_metadata(stamps.get(document.doc_id)),
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


def _document(metadata: dict, text: str) -> Document:
    """The document a documents row holds (its text, and pages and headings as JSON)."""
    return Document(
        metadata["doc_id"],
        text,
        pages=tuple(json.loads(metadata["pages"])),
        headings=tuple(tuple(pair) for pair in json.loads(metadata["headings"])),
    )


def _check_count(live: Live, kind: str, name: str, count: int) -> None:
    """DamagedIndex when a collection holds other than the rows the pointer records."""
    if count != live.counts[kind]:
        raise DamagedIndex(
            f"{name} holds {count} rows, the index's record says {live.counts[kind]}"
        )


def _stamp_metadata(stamp: Stamp | None) -> dict[str, int]:
    """A document row's record of its file's stamp ({} when it has none)."""
    if stamp is None:
        return {}
    recorded = {"size": stamp.size, "mtime_ns": stamp.mtime_ns, "seen_ns": stamp.seen_ns}
    if stamp.ino is not None and stamp.ctime_ns is not None:
        recorded |= {"ino": stamp.ino, "ctime_ns": stamp.ctime_ns}
    return recorded


def _stamp(metadata: dict) -> Stamp | None:
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


def _document_vector(chunk_vectors: np.ndarray, width: int) -> np.ndarray:
    """A document's row vector: the normalised mean of its chunks' (a fixed unit vector for
    a document without text, since Chroma needs one)."""
    if not len(chunk_vectors):
        unit = np.zeros(width, dtype=np.float32)
        unit[0] = 1.0
        return unit
    mean = chunk_vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _read_all(collection) -> dict[str, list]:
    include = ["metadatas", "documents", "embeddings"]
    rows: dict[str, list] = {"ids": [], "metadatas": [], "documents": [], "embeddings": []}
    offset = 0
    while True:
        got = collection.get(include=include, limit=_READ_BATCH, offset=offset)
        if not got["ids"]:
            return rows
        rows["ids"] += got["ids"]
        rows["metadatas"] += got["metadatas"]
        rows["documents"] += got["documents"]
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
    # Every row has a vector of the model's width, a document's too: a document without
    # sentences still has its width.
    width = len(rows["documents"]["embeddings"][0]) if rows["documents"]["ids"] else 0
    records = []
    for metadata, text in sorted(
        zip(rows["documents"]["metadatas"], rows["documents"]["documents"], strict=True),
        key=lambda row: row[0]["doc_id"],
    ):
        document = _document(metadata, text)
        own = by_doc.pop(document.doc_id, {k: [] for k in KINDS[1:]})
        records.append(_record(document, metadata["hash"], own, width))
    if by_doc:
        raise DamagedIndex(f"rows of documents it does not list ({sorted(by_doc)[0]})")
    return records


def _record(document: Document, digest: str, own: dict[str, list], width: int) -> DocumentIndex:
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


def _renew(lock, token: str, hold: _Hold, stop: threading.Event) -> None:
    """Renew the server lock's beat every _BEAT_S until `stop`; a lock that is gone was
    taken over by another writer, which `hold.lost` records."""
    while not stop.wait(_BEAT_S):
        try:
            lock.modify(metadata={"by": token, "beat": time.time()})
        except Exception as error:
            if _is_missing(error):
                log.warning("another docqa took over the index lock %s", lock.name)
                hold.lost = True
                return
            log.info("could not renew the index lock (%s); trying again", _brief(error))


def _remove_collection(client, collection) -> None:
    """Delete `collection` itself, not whatever has its name now: it is renamed first, by
    its id, so a lock that another writer took over meanwhile is left alone."""
    doomed = f"{collection.name}-gone-{uuid.uuid4().hex[:8]}"
    with contextlib.suppress(Exception):
        collection.modify(name=doomed)
        client.delete_collection(doomed)


def _writable(folder: Path) -> bool:
    """Whether the index's folder and database can be written (a read-only mount binds
    root too, where permission bits do not)."""
    database = folder / "chroma.sqlite3"
    return os.access(folder, os.W_OK) and (not database.exists() or os.access(database, os.W_OK))


def _out_of_space(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says the disk is full."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(sign in str(seen).lower() for sign in _OUT_OF_SPACE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


def _brief(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
