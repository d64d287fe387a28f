"""Generations: a whole index written as four collections, `<collection>-g<N>-<kind>`, and
`<collection>-live`, the pointer, whose metadata names the live generation with the
fingerprint of what shaped it, its row counts and the build id of its serving tables.

Reading one is checked against the pointer: listing its documents reads the documents rows
alone (and counts every kind's rows), loading it reads and checks every record. Damage is
proven, never assumed: a DamagedIndex names what disagrees."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from rag.documents import Stamp
from rag.errors import DamagedIndex, StoreError
from rag.indexing import DocumentIndex
from rag.settings import Settings
from rag.store.chroma import Connection
from rag.store.failures import describe_error, is_connection, is_not_found
from rag.store.rows import (
    KINDS,
    READ_BATCH,
    WRITE_BATCH,
    batches,
    document_from_row,
    read_all_rows,
    records_from_rows,
    row_counts,
    rows_of,
    stamp_from_row,
)
from rag.tables import BUILD_ID, Tables

log = logging.getLogger(__name__)

# The live documents as their rows list them: doc_id -> (content hash, stamp).
DocumentListing = dict[str, tuple[str, Stamp | None]]


@dataclass(frozen=True)
class LiveGeneration:
    """The generation being served, as the pointer records it."""

    generation: int
    fingerprint: str
    counts: dict[str, int]
    # documents that could not be indexed as they are now: doc_id -> (content hash, reason)
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)
    build: str = ""  # unique to the write that made the generation: names its tables


class Generations:
    """The generations of one index: the pointer, reading and checking a generation, writing
    one, removing one, and the serving tables of each."""

    _bad_builds: ClassVar[set[str]] = set()  # pointer build fields warned of, once each

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self.settings = settings
        self.connection = connection

    # -- the pointer ---------------------------------------------------------------------

    def read_pointer(self) -> LiveGeneration | None:
        """The live generation, as the pointer records it (None when there is none yet)."""
        connection = self.connection
        client = connection.retrying(connection.client)
        try:
            pointer = connection.retrying(client.get_collection, connection.pointer_name)
        except Exception as error:
            if is_not_found(error):
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
            if build not in Generations._bad_builds:
                Generations._bad_builds.add(build)
                log.warning(
                    "the index at %s names its serving tables %r, which is not a build id: "
                    "it is damaged, and is rebuilt",
                    connection.location,
                    build[:80],
                )
            build, shaped = "", ""
        return LiveGeneration(
            int(meta["generation"]),
            shaped,
            {kind: int(meta.get(kind, -1)) for kind in KINDS},
            failed,
            build,
        )

    def point_to(
        self,
        generation: int,
        fingerprint: str,
        records: Sequence[DocumentIndex],
        failed: dict[str, tuple[str, str]],
        build: str,
    ) -> None:
        """Make `generation` (holding `records`) the live one."""
        pointer = self.connection.client().get_or_create_collection(
            self.connection.pointer_name, embedding_function=None
        )
        pointer.modify(
            metadata={
                "generation": generation,
                "fingerprint": fingerprint,
                **row_counts(records),
                "failed": json.dumps(failed),
                "build": build,
            }
        )

    # -- reading a generation ------------------------------------------------------------

    def list_documents(self, live: LiveGeneration, verify: bool = True) -> DocumentListing:
        """The live documents (doc_id -> content hash, stamp), read from their rows alone,
        after every kind's row count is checked against the pointer's (with `verify`; the
        documents' always are)."""
        for kind in KINDS if verify else ("documents",):
            collection = self.collection_of(live, kind)
            check_count(live, kind, collection.name, collection.count())
        documents = self.collection_of(live, "documents")
        listing = {}
        offset = 0
        while True:
            got = documents.get(include=["metadatas"], limit=READ_BATCH, offset=offset)
            if not got["ids"]:
                return listing
            for metadata in got["metadatas"]:
                try:
                    document_from_row(metadata, "")  # a row no build can read is damage
                    listing[str(metadata["doc_id"])] = (
                        str(metadata["hash"]),
                        stamp_from_row(metadata),
                    )
                except (ValueError, KeyError, TypeError) as error:
                    raise DamagedIndex(
                        f"its rows cannot be read ({describe_error(error)})"
                    ) from None
            offset += len(got["ids"])

    def collection_of(self, live: LiveGeneration, kind: str):
        """The collection of one kind of a generation; DamagedIndex when it is missing."""
        connection = self.connection
        try:
            return connection.client().get_collection(
                connection.collection_name(live.generation, kind)
            )
        except Exception as error:
            if is_not_found(error):
                raise DamagedIndex(f"its {kind} collection is missing") from None
            raise

    def load_records(self, live: LiveGeneration) -> list[DocumentIndex]:
        """Every record of a generation, checked against the pointer's counts."""
        rows = {}
        for kind in KINDS:
            collection = self.collection_of(live, kind)
            rows[kind] = read_all_rows(collection)
            check_count(live, kind, collection.name, len(rows[kind]["ids"]))
        if rows["chunks"]["ids"]:  # querying with a stored vector proves the vector file loads
            chunks = self.connection.client().get_collection(
                self.connection.collection_name(live.generation, "chunks")
            )
            try:
                chunks.query(query_embeddings=[rows["chunks"]["embeddings"][0]], n_results=1)
            except Exception as error:
                if is_connection(error):
                    raise
                raise DamagedIndex(f"its vector index cannot be searched ({error})") from None
        try:
            return records_from_rows(rows)
        except DamagedIndex:
            raise
        except (ValueError, KeyError, TypeError, IndexError) as error:  # an older build's rows
            raise DamagedIndex(f"its rows cannot be read ({describe_error(error)})") from None

    def load_live_generation(self) -> tuple[LiveGeneration, list[DocumentIndex]]:
        """The live generation and its records, checked; a StoreError when there is none or
        it is damaged."""
        live = self.read_pointer()
        while True:
            if live is None:
                raise StoreError(
                    f"there is no index at {self.connection.location} yet: run `docqa index`"
                )
            try:
                return live, self.load_records(live)
            except DamagedIndex as damage:
                if (newer := self.read_pointer()) != live:  # a writer switched meanwhile
                    live = newer
                    continue
                raise StoreError(
                    f"the index at {self.connection.location} is damaged ({damage}): run "
                    "`docqa index` to rebuild it"
                ) from None

    # -- writing and removing ------------------------------------------------------------

    def write(
        self, generation: int, records: Sequence[DocumentIndex], stamps: Mapping[str, Stamp]
    ) -> None:
        """Write `records` as the collections of `generation` (not yet live)."""
        connection = self.connection
        client = connection.client()
        made = {
            kind: client.create_collection(
                connection.collection_name(generation, kind),
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
            for kind in KINDS
        }
        for kind in KINDS:
            # Rows are made a batch at a time: a whole corpus of them at once would hold a
            # second copy of every vector and text as Python objects.
            for batch in batches(rows_of(records, kind, stamps), WRITE_BATCH):
                ids, vectors, texts, metadatas = zip(*batch, strict=True)
                connection.retrying(
                    made[kind].upsert,  # upsert: a retried write must not fail as a duplicate
                    ids=list(ids),
                    embeddings=np.asarray(vectors, dtype=np.float32),
                    documents=list(texts),
                    metadatas=list(metadatas),
                )

    def next_number(self, live: LiveGeneration | None) -> int:
        """A generation number above the live one's and every leftover's."""
        return max([live.generation if live else 0, *self.numbers().values()]) + 1

    def numbers(self) -> dict[str, int]:
        """This index's collections and the generation of each (0: an older format's)."""
        ours = re.compile(
            rf"{re.escape(self.settings.collection)}-(?:g(\d+)-)?(?:{'|'.join(KINDS)})"
        )
        found = {}
        for name in self.connection.collection_names():
            if match := ours.fullmatch(name):
                found[name] = int(match.group(1) or 0)
        return found

    def discard(self, generation: int) -> None:
        """Remove what a failed build wrote as `generation`, unless it went live after all
        (a pointer switch whose answer was lost)."""
        connection = self.connection
        with contextlib.suppress(Exception):
            live = self.read_pointer()
            if live is not None and live.generation == generation:
                return
            names = [connection.collection_name(generation, kind) for kind in KINDS]
            # Their vector folders go first: on a full disk, SQLite needs room to delete.
            for segment in connection.segment_ids(names):
                shutil.rmtree(connection.chroma_path / segment, ignore_errors=True)
            client = connection.client()
            for name in names:
                with contextlib.suppress(Exception):
                    client.delete_collection(name)
        connection.compact()

    # -- serving tables ------------------------------------------------------------------

    def tables_folder(self, build: str) -> Path:
        """The folder of a build's serving tables, inside `index_dir/serving`: `build` is
        data from the pointer, so it must be a build id (ValueError otherwise)."""
        if not BUILD_ID.fullmatch(build):
            raise ValueError(f"{build!r} is not a build id")
        serving = self.settings.index_dir / "serving"
        folder = serving / f"{self.settings.collection}-{build}"
        assert folder.parent == serving and folder.name not in ("", ".", "..")
        return folder

    def save_tables(self, build: str, tables: Tables) -> None:
        """Save a generation's tables where its servers find them (they go on serving from
        memory when the folder cannot be written)."""
        folder = self.tables_folder(build)
        try:
            tables.save(folder)
        except OSError as error:
            log.info("could not save the serving tables at %s (%s)", folder, describe_error(error))

    def prune_tables(self, build: str) -> None:
        """Remove the tables of generations other than `build`'s, and what saves that died
        left (a process serving one holds it in memory: it never reads the files again)."""
        keep = self.tables_folder(build).name
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


def check_count(live: LiveGeneration, kind: str, name: str, count: int) -> None:
    """DamagedIndex when a collection holds other than the rows the pointer records."""
    if count != live.counts[kind]:
        raise DamagedIndex(
            f"{name} holds {count} rows, the index's record says {live.counts[kind]}"
        )
