"""The Chroma client and the writer's lock: an embedded index at `index_dir/chroma` (a
private copy when that folder is read-only; a database SQLite cannot read is set aside, never
deleted) or a Chroma server, tried again while it does not answer. One writer at a time: a
file lock beside an embedded index, a lock collection with a heartbeat on a server. What the
embedded database needs that Chroma does not do (finding a collection's vector folders,
compaction) runs in a child process of its own."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import StoreError
from rag.settings import Settings
from rag.store.failures import (
    describe_error,
    is_connection,
    is_not_found,
    is_unreadable_database,
)

if TYPE_CHECKING:
    import chromadb

log = logging.getLogger(__name__)

_LOCK_WAIT_S = 600  # how long a second `docqa index` waits for the first
_LOCK_POLL_S = 0.5  # how often a waiting writer looks at the lock again
_BEAT_S = 5.0  # how often the holder of a server lock renews its beat
_STALE_LOCK_S = 30.0  # a server lock whose beat has not moved for this long lost its holder
_RETRY_PAUSES_S = (0.3, 1.0, 3.0)  # backoff while a Chroma server does not answer
_SQLITE_WAIT_S = 30  # how long compaction waits for readers of the embedded database
# What a child process does to the embedded database (see Connection._run_sqlite_child):
# stdlib only, so it starts in a few milliseconds. argv: command, the Chroma folder, then the
# command's own.
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


@dataclass
class WriterLock:
    """The writer lock, as held: `lost` turns True when another writer took it over."""

    lost: bool = False


class Connection:
    """The Chroma client of one settings object, opened lazily, once; the names of the
    index's collections; the writer's lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: chromadb.ClientAPI | None = None
        # The client has a lock of its own: a reader never waits for a whole sync.
        self.lock = threading.RLock()
        self._read_only_copy: Path | None = None

    # -- names ---------------------------------------------------------------------------

    def collection_name(self, generation: int, kind: str) -> str:
        """The collection of one kind of a generation: `<collection>-g<N>-<kind>`."""
        return f"{self.settings.collection}-g{generation}-{kind}"

    @property
    def pointer_name(self) -> str:
        """The collection whose metadata names the live generation."""
        return f"{self.settings.collection}-live"

    @property
    def location(self) -> str:
        """The index's folder, or its server's address, for messages."""
        if self.settings.chroma_host:
            return f"{self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.chroma_path)

    @property
    def chroma_path(self) -> Path:
        """Where the embedded index keeps its files."""
        return self.settings.index_dir / "chroma"

    def collection_names(self) -> list[str]:
        """The names of every collection the client sees."""
        return [getattr(item, "name", item) for item in self.client().list_collections()]

    # -- the client ----------------------------------------------------------------------

    def client(self) -> chromadb.ClientAPI:
        """The Chroma client, opened on first use."""
        with self.lock:
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
                    path = self._embedded_folder()
                    try:
                        self._client = chromadb.PersistentClient(
                            path=str(path), settings=chroma_settings
                        )
                    except Exception as error:
                        # Chroma caches the system that failed to start: the next open
                        # would reuse it, half made.
                        chromadb.api.client.SharedSystemClient.clear_system_cache()
                        if not is_unreadable_database(error):
                            raise
                        self._set_aside(error)
                        self._client = chromadb.PersistentClient(
                            path=str(self.chroma_path), settings=chroma_settings
                        )
            return self._client

    def close(self) -> None:
        """Forget the client, so the next use opens the index afresh."""
        with self.lock:
            self._client = None
            import chromadb

            chromadb.api.client.SharedSystemClient.clear_system_cache()

    def retrying(self, call, *args, **kwargs):
        """`call(*args, **kwargs)`, tried again with backoff while a Chroma server cannot be
        reached (a restart, a proxy's 503): only the last failure is raised."""
        for pause in (*_RETRY_PAUSES_S, None):
            try:
                return call(*args, **kwargs)
            except Exception as error:
                if pause is None or not self.settings.chroma_host or not is_connection(error):
                    raise
                log.info(
                    "the Chroma server did not answer (%s); trying again", describe_error(error)
                )
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _embedded_folder(self) -> Path:
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

    # -- the embedded database, from a child process --------------------------------------

    def segment_ids(self, names: Sequence[str]) -> list[str]:
        """The ids of the embedded index's segments (each a folder of vectors, once it has
        any) of the collections called `names`."""
        if self.settings.chroma_host:
            return []
        return json.loads(self._run_sqlite_child("segments", *names))

    def compact(self) -> None:
        """Give the space of dropped collections back: Chroma leaves the folders of their
        vectors behind, and SQLite keeps freed pages (and full-text index entries) in its
        file. Only for an embedded index; nothing live is touched, and a failure leaves the
        index intact, only larger."""
        if self.settings.chroma_host:
            return
        try:
            self._run_sqlite_child("compact")
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
            log.info("could not compact the index at %s (%s)", self.location, describe_error(error))

    def _run_sqlite_child(self, command: str, *args: str) -> str:
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

    # -- the writer's lock ---------------------------------------------------------------

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[WriterLock]:
        """One writer at a time: a file lock beside an embedded index, a lock collection on
        a Chroma server."""
        if self.settings.chroma_host:
            with self._server_writer_lock() as held:
                yield held
            return
        import fcntl

        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        with (self.settings.index_dir / "index.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning(
                    "another docqa is writing the index at %s; waiting for it", self.location
                )
                deadline = time.monotonic() + _LOCK_WAIT_S
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise StoreError(
                                f"another docqa has been writing the index at {self.location} "
                                f"for over {_LOCK_WAIT_S} s: wait for it to finish, or stop it"
                            ) from None
                        time.sleep(0.2)
            try:
                yield WriterLock()  # the kernel drops the lock of a process that dies
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def writer_lock_if_free(self) -> Iterator[bool]:
        """An embedded index's writer lock, only when it is free at once (True; False when a
        writer holds it): for work never worth waiting for. An OSError when the lock file
        cannot be opened."""
        import fcntl

        with (self.settings.index_dir / "index.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                free = True
            except OSError:
                free = False
            try:
                yield free
            finally:
                if free:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _server_writer_lock(self) -> Iterator[WriterLock]:
        """One writer at a time on a Chroma server: the writer holds a lock collection,
        `<collection>-writer`, whose `beat` it renews every _BEAT_S from a thread of its own;
        creating it fails while another holds it. A lock whose beat has not moved for
        _STALE_LOCK_S lost its writer (killed, or cut off): it is taken over."""
        client = self.retrying(self.client)
        name = f"{self.settings.collection}-writer"
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        lock = self._take_server_lock(client, name, token)
        held, stop = WriterLock(), threading.Event()
        beat = threading.Thread(
            target=_renew_beat,
            args=(lock, token, held, stop),
            name="docqa-index-lock",
            daemon=True,
        )
        beat.start()
        try:
            yield held
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
                if is_connection(error) or "already exists" not in str(error):
                    raise
            try:
                held = self.retrying(client.get_collection, name)
            except Exception as error:
                if is_not_found(error):
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
                    self.location,
                    meta.get("by", "?"),
                    _STALE_LOCK_S,
                )
                _remove_collection(client, held)
                continue
            if not waiting:
                log.warning(
                    "another docqa (%s) is writing the index on %s; waiting for it",
                    meta.get("by", "?"),
                    self.location,
                )
                waiting = True
            if time.monotonic() > deadline:
                raise StoreError(
                    f"another docqa ({meta.get('by', '?')}) has been writing the index on "
                    f"{self.location} for over {_LOCK_WAIT_S} s: wait for it to finish, or stop it"
                )
            time.sleep(_LOCK_POLL_S)


def _renew_beat(lock, token: str, held: WriterLock, stop: threading.Event) -> None:
    """Renew the server lock's beat every _BEAT_S until `stop`; a lock that is gone was
    taken over by another writer, which `held.lost` records."""
    while not stop.wait(_BEAT_S):
        try:
            lock.modify(metadata={"by": token, "beat": time.time()})
        except Exception as error:
            if is_not_found(error):
                log.warning("another docqa took over the index lock %s", lock.name)
                held.lost = True
                return
            log.info("could not renew the index lock (%s); trying again", describe_error(error))


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
