"""What a sync has to do (`SyncPlan`), found by reading the live generation without the
writer lock, and what it did (`IndexReport`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rag.documents import Skipped, content_hash
from rag.errors import DamagedIndex, ReadEveryFile
from rag.indexing import DocumentIndex, fingerprint
from rag.settings import Settings
from rag.store.generations import DocumentListing, Generations, LiveGeneration
from rag.store.rows import row_counts
from rag.types import Document

# The listing `Store.stamps` read, kept for the sync that follows: the live generation it was
# read from, whether every kind's rows were counted, and the listing.
StampedListing = tuple[LiveGeneration, bool, DocumentListing]


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

    @classmethod
    def of(cls, records: Sequence[DocumentIndex], **fields) -> IndexReport:
        """The report of a generation that holds `records`."""
        return cls(**row_counts(records), **{"embedded": 0, **fields})


@dataclass(frozen=True)
class SyncPlan:
    """What a sync has to do, found by reading the live generation."""

    documents: Sequence[Document]  # the files read this time
    not_read: Sequence[str]  # files not read: their stamps say they are as indexed
    fingerprint: str  # the fingerprint of the data these settings derive
    live: LiveGeneration | None
    live_documents: DocumentListing  # the live documents: doc_id -> hash, stamp
    loaded: dict[str, DocumentIndex]  # the live generation's records (loaded only to write)
    damage: str  # why the live generation is damaged, or ""
    hashes: dict[str, str]  # doc_id -> content hash, for `documents` and `not_read`
    changed: list[Document]  # not listed as they are now
    unreadable_kept: list[str]  # unreadable now: the copy listed stays
    removed: list[str]
    failed_before: dict[str, str]  # doc_id -> reason: changed, but failed before as they are

    @property
    def current(self) -> bool:
        """Whether the live generation was derived as these settings derive, and loads."""
        return (
            self.live is not None and self.live.fingerprint == self.fingerprint and not self.damage
        )

    @property
    def needs_write(self) -> bool:
        """Whether anything must be written."""
        return (
            not self.current
            or bool(self.removed)
            or any(document.doc_id not in self.failed_before for document in self.changed)
            # forget failures of files now gone
            or set(self.live.failed) != set(self.failed_before)
        )

    def unchanged_report(self) -> IndexReport:
        """The report of a sync that serves the live generation as it is."""
        assert self.live is not None
        counts = self.live.counts
        held = sorted(
            {
                *self.unreadable_kept,
                *(doc_id for doc_id in self.failed_before if doc_id in self.live_documents),
            }
        )
        return IndexReport(
            documents=counts["documents"],
            chunks=counts["chunks"],
            sentences=counts["sentences"],
            clauses=counts["clauses"],
            embedded=0,
            generation=self.live.generation,
            held=tuple(held),
            skipped=tuple(
                Skipped(doc_id, reason) for doc_id, reason in sorted(self.failed_before.items())
            ),
        )


def plan_sync(
    generations: Generations,
    settings: Settings,
    documents: Sequence[Document],
    unreadable: Collection[str],
    unchanged: Collection[str],
    stamped: StampedListing | None = None,
    load: bool = False,
    verify: bool = True,
) -> SyncPlan:
    """What syncing takes. Without `load` it reads only the live documents' rows (and counts
    every kind's): enough to tell whether anything changed. With it, it loads and checks every
    record, which a write carries over. `stamped` is the listing `Store.stamps` just read,
    used when it is of the same generation. ReadEveryFile when `unchanged` cannot be
    trusted."""
    wanted = fingerprint(settings)
    live = generations.read_pointer()
    listing: DocumentListing = {}
    loaded: dict[str, DocumentIndex] = {}
    damage = ""
    if live is not None and live.fingerprint == wanted:
        try:
            fresh = stamped and stamped[0] == live and (stamped[1] or not verify)
            # With `load`, every record is read and checked below: no need to count twice.
            listing = stamped[2] if fresh else generations.list_documents(live, verify and not load)
            if load:
                loaded = {record.doc_id: record for record in generations.load_records(live)}
        except DamagedIndex as why:
            damage, listing, loaded = str(why), {}, {}
    if unchanged and (damage or not set(unchanged) <= set(listing)):
        raise ReadEveryFile(damage or "the index changed while the files were listed")
    hashes = {document.doc_id: content_hash(document) for document in documents}
    hashes |= {doc_id: listing[doc_id][0] for doc_id in unchanged}
    unreadable_kept = sorted(set(unreadable) & set(listing) - set(hashes))
    current = live is not None and live.fingerprint == wanted and not damage
    return SyncPlan(
        documents=documents,
        not_read=tuple(unchanged),
        fingerprint=wanted,
        live=live,
        live_documents=listing,
        loaded=loaded,
        damage=damage,
        hashes=hashes,
        changed=[
            document
            for document in documents
            if document.doc_id not in listing
            or listing[document.doc_id][0] != hashes[document.doc_id]
        ],
        unreadable_kept=unreadable_kept,
        removed=sorted(set(listing) - set(hashes) - set(unreadable_kept)),
        failed_before={
            doc_id: reason
            for doc_id, (digest, reason) in (live.failed if live and current else {}).items()
            if hashes.get(doc_id) == digest
        },
    )
