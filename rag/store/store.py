"""`Store`: the index for one settings object. Syncing plans without the writer lock
(rag.store.plan), builds a whole new generation beside the live one, switches the pointer
only when it is complete and drops the others (rag.store.generations); serving opens the
live generation as a corpus and holds it while a question reads it."""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from rag.corpus import Corpus
from rag.documents import Stamp, describe_skipped
from rag.embeddings import SentenceEmbeddings
from rag.errors import DamagedTables, OutdatedTables, ReadEveryFile, StoreError
from rag.indexing import DocumentIndex, derive, fingerprint
from rag.settings import Settings
from rag.store.chroma import Connection, WriterLock
from rag.store.failures import FullDisk, as_store_errors, is_connection
from rag.store.generations import Generations
from rag.store.plan import IndexReport, StampedListing, SyncPlan, plan_sync
from rag.store.rows import ChromaRows, stamp_fields
from rag.tables import Tables, build_tables
from rag.types import Document

if TYPE_CHECKING:
    from langchain_chroma import Chroma

log = logging.getLogger(__name__)


class Store:
    """The index for one settings object; the client is opened lazily, once."""

    def __init__(self, settings: Settings, embeddings: SentenceEmbeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.connection = Connection(settings)
        self.generations = Generations(settings, self.connection)
        self.full_disk = FullDisk(settings, self.connection.location)
        self._lock = threading.RLock()  # one sync (or open, or load) at a time
        # The vector stores share the client's lock: a reader never waits for a whole sync.
        self._vectorstores: dict[int, Chroma] = {}  # generation -> its chunks' vector store
        self._served = 0  # the generation dense_search reads by default
        # Generations this process reads (an answer under way, a corpus being served) are
        # never dropped under it: a writer leaves them, and the last reader drops them.
        self._readers: dict[int, int] = {}
        self._readers_lock = threading.Lock()
        self._stamped: StampedListing | None = None  # what `stamps` read, for the next sync

    @property
    def location(self) -> str:
        """The index's folder, or its server's address, for messages."""
        return self.connection.location

    @property
    def chroma_path(self):
        """Where the embedded index keeps its files."""
        return self.connection.chroma_path

    def as_store_errors(self, doing: str):
        """A context in which any error becomes a StoreError that says what to do."""
        return as_store_errors(doing, self.settings, self.location, self.close)

    # -- syncing -------------------------------------------------------------------------

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
        with self._lock, self.as_store_errors("write"):
            # The listing `stamps` just read serves once, for the same generation.
            stamped, self._stamped = self._stamped, None
            try:
                plan = plan_sync(
                    self.generations,
                    self.settings,
                    documents,
                    unreadable,
                    unchanged,
                    stamped,
                    verify=verify,
                )
            except ReadEveryFile:
                raise
            except Exception as error:
                if is_connection(error):
                    raise
                # Read while a writer dropped the generation being read, or held the
                # database for a moment: look again under the lock, where nothing moves.
                log.debug("reading the index without the lock failed", exc_info=True)
                plan = None
            if plan is not None and not plan.needs_write:  # readers never wait for a writer
                self._restamp(plan, stamps or {})
                return self._serve_as_is(plan)
            if (
                answering
                and plan is not None
                and plan.current
                and (full := self.full_disk.still_full())
            ):
                log.warning(
                    "the sources changed, but %s: answering from the index built before",
                    full,
                )
                return self._serve_as_is(plan)
            with self.connection.writer_lock() as lock:
                plan = plan_sync(
                    self.generations, self.settings, documents, unreadable, unchanged, load=True
                )
                if not plan.needs_write:  # a writer may have finished meanwhile
                    return self._serve_as_is(plan)
                if plan.damage:
                    log.warning(
                        "the index at %s is damaged (%s); rebuilding it beside the damaged one",
                        self.location,
                        plan.damage,
                    )
                return self._build(plan, lock, progress, on_progress, stamps or {})

    def stamps(self, verify: bool = True) -> dict[str, Stamp]:
        """The stamps of the live documents' files as they were read, when the live
        generation was derived as these settings derive ({} otherwise, or when there is no
        index yet): a file whose stamp still holds need not be read again. `verify` as for
        `sync`."""
        with self._lock, self.as_store_errors("read"):
            try:
                live = self.generations.read_pointer()
                if live is None or live.fingerprint != fingerprint(self.settings):
                    return {}
                listing = self.generations.list_documents(live, verify)
            except Exception as error:
                if is_connection(error):
                    raise
                log.debug("reading the index's stamps failed", exc_info=True)
                return {}  # damaged, or a writer moved on: every file is read
            self._stamped = (live, verify, listing)  # the sync that follows reads them once
            return {doc_id: stamp for doc_id, (_h, stamp) in listing.items() if stamp is not None}

    def _serve_as_is(self, plan: SyncPlan) -> IndexReport:
        """The live generation, served as it is."""
        report = plan.unchanged_report()
        self._served = report.generation
        return report

    def _restamp(self, plan: SyncPlan, stamps: Mapping[str, Stamp]) -> None:
        """Record the new stamps of files read again but found as indexed (touched, copied,
        checked out), so the next sync need not read them; only when an embedded index's
        writer lock is free at once: this is never worth waiting for."""
        assert plan.live is not None
        listing = plan.live_documents
        fresh = {
            d.doc_id: stamps[d.doc_id]
            for d in plan.documents
            if d.doc_id in stamps
            and d.doc_id in listing
            and listing[d.doc_id][0] == plan.hashes[d.doc_id]
            and listing[d.doc_id][1] != stamps[d.doc_id]
        }
        if not fresh or self.settings.chroma_host:
            return
        try:
            with self.connection.writer_lock_if_free() as free:
                if not free or self.generations.read_pointer() != plan.live:
                    return  # a writer is busy, or moved on: its rows are not these
                name = self.connection.collection_name(plan.live.generation, "documents")
                documents = self.connection.client().get_collection(name)
                rows = documents.get(ids=list(fresh), include=["metadatas"])
                documents.update(
                    ids=rows["ids"],
                    metadatas=[
                        {**metadata, **stamp_fields(fresh[id_])}
                        for id_, metadata in zip(rows["ids"], rows["metadatas"], strict=True)
                    ],
                )
        except Exception:  # read-only, or anything else: the files are read next time
            log.debug("could not record the files' new stamps", exc_info=True)

    def _build(
        self,
        plan: SyncPlan,
        lock: WriterLock,
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
        loaded = plan.loaded
        records = sorted(
            [
                fresh.get(d.doc_id) or loaded[d.doc_id]
                for d in plan.documents
                if d.doc_id in fresh or d.doc_id in loaded
            ]
            + [loaded[doc_id] for doc_id in (*plan.not_read, *plan.unreadable_kept)],
            key=lambda record: record.doc_id,
        )
        if not records:
            raise StoreError(
                f"no document could be indexed ({describe_skipped(failures)}): fix or remove "
                "those files and run `docqa index` again"
            )
        failed = {item.name: (plan.hashes[item.name], item.reason) for item in failures}
        held = sorted({*plan.unreadable_kept, *(doc_id for doc_id in failed if doc_id in loaded)})
        # A file read this time gets its new stamp; one carried over keeps the one it had.
        old = {doc_id: stamp for doc_id, (_h, stamp) in plan.live_documents.items() if stamp}
        written = {
            **old,
            **{d.doc_id: stamps[d.doc_id] for d in plan.documents if d.doc_id in stamps},
        }
        if plan.current and not fresh and not plan.removed:
            assert plan.live is not None  # only failures: the live generation stays as it is
            generation = plan.live.generation
            self.generations.point_to(
                generation, plan.fingerprint, records, failed, plan.live.build
            )
        else:
            generation = self.generations.next_number(plan.live)
            live = plan.live.generation if plan.live else 0
            self._switch(generation, live, plan.fingerprint, records, failed, lock, written)
        self._served = generation
        return IndexReport.of(
            records,
            embedded=sum(len(record.sentences) for record in derived),
            changed=tuple(d.doc_id for d in plan.changed if d.doc_id in fresh),
            removed=tuple(plan.removed),
            recovered=plan.damage,
            generation=generation,
            held=tuple(held),
            skipped=failures,
        )

    def _switch(
        self,
        generation: int,
        live: int,
        fingerprint: str,
        records: Sequence[DocumentIndex],
        failed: dict[str, tuple[str, str]],
        lock: WriterLock,
        stamps: Mapping[str, Stamp],
    ) -> None:
        """Write `records` as `generation` beside the `live` one, point the index at it, drop
        the others. A write that fails removes what it wrote: `live` goes on serving."""
        generations = self.generations
        try:
            if self._drop_all_but(generation, live):  # leftovers of builds that died
                self.connection.compact()  # room for this one
            generations.write(generation, records, stamps)
            build = uuid.uuid4().hex
            generations.save_tables(build, build_tables(records))
            if lock.lost:
                raise StoreError(
                    f"another docqa took over the index lock on {self.location} while this "
                    "one was writing (this one stopped renewing it): run `docqa index` again"
                )
            generations.point_to(generation, fingerprint, records, failed, build)
        except Exception as error:
            full = self.full_disk.caused(error)
            generations.discard(generation)
            if full:
                self.full_disk.note()  # after the discard: the room a build has
                raise self.full_disk.error(error) from error
            raise
        self.full_disk.forget()
        self._served = generation  # before the drop: a reader holds the live one from now
        self._drop_all_but(generation)
        generations.prune_tables(build)
        self.connection.compact()

    def _drop_all_but(self, *generations: int) -> bool:
        """Drop every other generation of this index (and collections of older formats),
        but those a reader of this process holds; whether there was any."""
        client = self.connection.client()
        with self._readers_lock:  # a generation this process reads stays until released
            keep = {*generations, *self._readers}
            numbers = self.generations.numbers()
            others = [name for name, number in numbers.items() if number not in keep]
            for number in {numbers[name] for name in others}:
                self._vectorstores.pop(number, None)
        for name in others:
            with contextlib.suppress(Exception):
                client.delete_collection(name)
        return bool(others)

    # -- serving -------------------------------------------------------------------------

    def open_corpus(self) -> Corpus:
        """The live generation for retrieval: its tables (read from the folder the build saved
        them in and checked, or derived from its records where this machine has none or they
        fail their check, and saved there) and its rows, fetched by id from the index. A
        StoreError when there is no index yet, or it is damaged."""
        with self._lock, self.as_store_errors("read"):
            live = self.generations.read_pointer()
            if live is None:
                raise StoreError(f"there is no index at {self.location} yet: run `docqa index`")
            tables = None
            if live.build:
                folder = self.generations.tables_folder(live.build)
                try:
                    tables = Tables.load(folder, live.counts)
                except OutdatedTables as outdated:
                    log.info(
                        "the serving tables at %s were written by another version of docqa "
                        "(%s): derived them again from the index",
                        folder,
                        outdated,
                    )
                except DamagedTables as damage:
                    if folder.exists():  # absent: a machine of its own derives them quietly
                        log.warning(
                            "the serving tables at %s were damaged (%s): derived them again "
                            "from the index",
                            folder,
                            damage,
                        )
            if tables is None:
                live, records = self.generations.load_live_generation()
                tables = build_tables(records)
                if live.build:
                    self.generations.save_tables(live.build, tables)
            self._served = live.generation
            return Corpus.open(tables, ChromaRows(self, live.generation))

    def load_live_records(self) -> list[DocumentIndex]:
        """The records of the live generation; a StoreError when there is none yet."""
        with self._lock, self.as_store_errors("read"):
            live, records = self.generations.load_live_generation()
            self._served = live.generation
            return records

    def live_generation(self) -> int:
        """The generation the index serves now (0 when it has none): a serving process that
        loaded an older one reloads. Never waits for a sync of this process."""
        with self.as_store_errors("read"):
            live = self.generations.read_pointer()
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
            with self.connection.writer_lock_if_free() as free:
                if not free:
                    return  # a writer is busy: it drops them
                live = self.generations.read_pointer()
                if live is not None and self._drop_all_but(live.generation):
                    self.connection.compact()
        except Exception:  # the next sync drops them
            log.debug("could not drop the generations no reader holds", exc_info=True)
        finally:
            self._lock.release()

    def dense_search(self, vector: list[float], k: int, generation: int = 0) -> list[str]:
        """The ids of the `k` chunks of `generation` (by default the served one) closest to
        `vector`, best first."""
        with self.as_store_errors("search"):
            hits = self.connection.retrying(
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
        with self.connection.lock:
            if generation not in self._vectorstores:
                from langchain_chroma import Chroma

                self._vectorstores[generation] = Chroma(
                    collection_name=self.connection.collection_name(generation, "chunks"),
                    embedding_function=self.embeddings,
                    client=self.connection.client(),
                    create_collection_if_not_exists=False,
                )
            return self._vectorstores[generation]

    def close(self) -> None:
        """Forget the client, so the next use opens the index afresh."""
        with self._lock, self.connection.lock:
            self._vectorstores.clear()
            self._served = 0
            self.connection.close()
