"""What went wrong, classified: Chroma and its client raise many types, and each is told
apart here (a server that cannot be reached, a collection that is not there, a full disk, a
database SQLite cannot read) and reported as a StoreError that says what to do. A build that
finds the disk full notes the room it had (`FullDisk`), so answering does not try again
while there is no more."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator

from rag.errors import ReadEveryFile, StoreError
from rag.settings import Settings

log = logging.getLogger(__name__)

# With less free than this, Chroma's failure to write ("Error in compaction") is a full disk.
NEARLY_FULL_BYTES = 64 * 1024 * 1024
_OUT_OF_SPACE = ("no space left", "database or disk is full", "disk full", "disk quota")
_UNREADABLE_DATABASE = (
    "file is not a database",
    "malformed",
    "database disk image",
    "not a database",
)


def is_connection(error: BaseException) -> bool:
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


def is_not_found(error: Exception) -> bool:
    """Whether `error` says a collection is not there."""
    return type(error).__name__ == "NotFoundError" or "does not exist" in str(error)


def is_out_of_space(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says the disk is full."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(sign in str(seen).lower() for sign in _OUT_OF_SPACE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_unreadable_database(error: Exception) -> bool:
    """Whether `error` says SQLite cannot read the embedded database file."""
    text = str(error).lower()
    return any(sign in text for sign in _UNREADABLE_DATABASE)


def describe_error(error: BaseException) -> str:
    """An error on one line, for a message: describe_error(OSError("a\\n b")) -> "OSError: a b"."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


@contextlib.contextmanager
def as_store_errors(
    doing: str, settings: Settings, location: str, on_disconnect: Callable[[], None]
) -> Iterator[None]:
    """Any error but a StoreError (or ReadEveryFile) becomes a StoreError that says what
    happened while `doing` ("read", "write", "search") the index at `location`, and what to
    do; `on_disconnect` runs first when the server could not be reached."""
    try:
        yield
    except (StoreError, ReadEveryFile):
        raise
    except Exception as error:
        if is_connection(error):
            on_disconnect()
            raise StoreError(
                f"cannot reach the Chroma server at {location} ({describe_error(error)}): "
                "start it (`chroma run --path <folder> --port "
                f"{settings.chroma_port}`) or fix DOCQA_CHROMA_HOST/DOCQA_CHROMA_PORT"
            ) from error
        if is_out_of_space(error):
            raise FullDisk(settings, location).error(error) from error
        if (
            isinstance(error, PermissionError)
            or getattr(error, "errno", None) == errno.EROFS
            or "readonly" in str(error).lower()
        ):
            raise StoreError(
                f"cannot {doing} the index at {location}: it is read-only or "
                f"permission is denied ({describe_error(error)}); make the folder writable or "
                "set DOCQA_INDEX_DIR to one that is"
            ) from error
        raise StoreError(
            f"could not {doing} the index at {location} ({describe_error(error)}); run "
            "`docqa index` again, and if it fails again report it"
        ) from error


class FullDisk:
    """A full disk under the index: the StoreError that reports it, and the note a build
    leaves of the room it had (`index_dir/full.json`, or in this process alone where that
    cannot be written), until a build succeeds."""

    def __init__(self, settings: Settings, location: str) -> None:
        self.settings = settings
        self.location = location  # the index's folder or server, for messages
        self._unsaved_note: dict | None = None

    @property
    def note_path(self):
        """Where a build that found the disk full notes how much room it had."""
        return self.settings.index_dir / "full.json"

    def error(self, error: BaseException) -> StoreError:
        """The StoreError for a write that found no space left."""
        where = (
            f"the Chroma server at {self.location}"
            if self.settings.chroma_host
            else str(self.settings.index_dir)
        )
        return StoreError(
            f"no space left on {where} ({describe_error(error)}): free some space there, or "
            "set DOCQA_INDEX_DIR to a disk with room, then run `docqa index` again; the index "
            "built before goes on serving"
        )

    def caused(self, error: BaseException) -> bool:
        """Whether a build's `error` comes of a full disk (Chroma says only "error in
        compaction" when it could not write its vectors)."""
        return is_out_of_space(error) or (
            "error in compaction" in str(error).lower() and self.free_bytes() < NEARLY_FULL_BYTES
        )

    def note(self) -> None:
        """Note that a build found the disk full, and the room it had."""
        note = {"free": None if self.settings.chroma_host else self.free_bytes()}
        marker = self.note_path
        spare = marker.with_name(f".{marker.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
        try:
            spare.write_text(json.dumps(note), encoding="utf-8")
            spare.replace(marker)
        except OSError as error:
            spare.unlink(missing_ok=True)
            self._unsaved_note = note
            log.info("could not note the full disk at %s (%s)", marker, describe_error(error))

    def forget(self) -> None:
        """A build succeeded: there was room after all."""
        self._unsaved_note = None
        with contextlib.suppress(OSError):
            self.note_path.unlink(missing_ok=True)

    def still_full(self) -> str:
        """Why a build would find the disk full again ("" when it might not): a build
        found it full, none has succeeded since, and there is no more room now than it had
        (by NEARLY_FULL_BYTES)."""
        try:
            note = json.loads(self.note_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            note = self._unsaved_note
        except (OSError, ValueError):
            return ""  # unreadable: build, and find out
        if not isinstance(note, dict):
            return ""
        had = note.get("free")
        if self.settings.chroma_host or not isinstance(had, int):
            return f"the last build found no space left on {self.location}"
        free = self.free_bytes()
        if free >= had + NEARLY_FULL_BYTES:
            return ""
        return (
            f"the last build found no space left on {self.settings.index_dir} "
            f"({_megabytes(free)} free now, {_megabytes(had)} then)"
        )

    def free_bytes(self) -> int:
        """Free space where the embedded index lives (a server's is not known here)."""
        if self.settings.chroma_host:
            return NEARLY_FULL_BYTES
        folder = self.settings.index_dir
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return shutil.disk_usage(folder).free


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"
