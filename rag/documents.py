"""Finding the source files and reading each one's text; a file that cannot be read is
skipped with its reason, and everything else is read."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import ExtractionError, SourceError
from rag.extract import SUFFIXES, Limits, extract
from rag.settings import (
    DEFAULT_MAX_FILE_CHARS,
    DEFAULT_MAX_FILE_MB,
    DEFAULT_MAX_PDF_PAGES,
    Settings,
)
from rag.types import Document

_DETAIL_CHARS = 200  # of a parser's error message, in the reason a file was skipped
UPLOADS = "uploads/"  # the doc ids of the upload folder's documents start with this
# A file modified within this long before it was stamped could be modified again in the same
# clock tick of its file system without its mtime moving: such a stamp is "racily clean" and
# never trusted (git's rule for its index; see `Stamp.racy`).
_RACY_NS = 2_000_000_000
_INODE_BITS = (1 << 63) - 1  # an inode as stored: Chroma's integers are signed 64-bit


@dataclass(frozen=True)
class Stamp:
    """A file's size, modification time, inode and change time as it was read, and when it
    was read. A row of an older index has no inode or change time (None): its file is read,
    and its content hash compared, once more."""

    size: int
    mtime_ns: int
    seen_ns: int
    ino: int | None = None
    ctime_ns: int | None = None

    @classmethod
    def of(cls, status: os.stat_result) -> Stamp:
        """The stamp of a file whose `stat` is `status`, taken now."""
        return cls(
            status.st_size,
            status.st_mtime_ns,
            time.time_ns(),
            status.st_ino & _INODE_BITS,
            status.st_ctime_ns,
        )

    @property
    def racy(self) -> bool:
        """Whether the file was stamped too soon after it was last modified to trust the
        stamp: a write in the same clock tick leaves size and mtime as they were. This is
        git's "racily clean" rule (read-cache.c, `is_racy_stat`): an entry whose mtime is not
        older than the moment its stat was recorded is checked by content, however well its
        stat matches. Git compares the index file's own mtime; docqa keeps that moment per
        file (`seen_ns`), so a racy stamp stays racy (git's "smudging") until the file is
        read again, and allows a margin for clocks coarser than a nanosecond (FAT's 2 s).
        Git judges only mtime, and so does this: a change time is compared, never judged."""
        return self.seen_ns - self.mtime_ns <= _RACY_NS

    def unchanged(self, status: os.stat_result) -> bool:
        """Whether a file now at `status` is surely the file stamped: same size, mtime, inode
        and change time, and not racily stamped. Anything else (an edit whose mtime was put
        back, `touch -r`; another file of the same size and mtime moved over it) has the file
        read again and its content hash compared with the index's: its sentences are derived
        again only when the text differs."""
        return (
            status.st_size == self.size
            and status.st_mtime_ns == self.mtime_ns
            and (status.st_ino & _INODE_BITS) == self.ino
            and status.st_ctime_ns == self.ctime_ns
            and not self.racy
        )


@dataclass(frozen=True)
class Skipped:
    """A file under the source folder that was not indexed, and why."""

    name: str  # path relative to the source folder
    reason: str


@dataclass(frozen=True)
class Sources:
    """What the source folder holds: the documents read, and the files skipped."""

    documents: tuple[Document, ...]
    skipped: tuple[Skipped, ...] = ()
    excluded: tuple[str, ...] = ()  # source files removed from the index, still on disk
    # files not read because their stamp says they are as indexed (see `load_collection`)
    unchanged: tuple[str, ...] = ()
    stamps: Mapping[str, Stamp] = field(default_factory=dict)  # doc_id -> stamp, each file read


def load_sources(
    source_dir: Path,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    max_file_chars: int = DEFAULT_MAX_FILE_CHARS,
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES,
) -> Sources:
    """Read every file of a format docqa knows under `source_dir`, sorted by path.

    Each file is a unit of failure: one that cannot be read (not UTF-8, encrypted, damaged,
    empty, too large or expanding past `max_file_chars` characters or `max_pdf_pages` pages,
    a link or hard link that may lead out of the folder, gone before it was read, or
    anything else going wrong in its parser) is skipped with its reason, and the rest are
    read. Raises SourceError, saying what to do, when the folder is missing or nothing in
    it can be read.
    """
    _check_source_dir(source_dir)
    limits = Limits(max_file_chars, max_pdf_pages)
    return _checked(source_dir, _read_folder(source_dir, "", max_file_mb, limits))


def load_collection(settings: Settings, known: Mapping[str, Stamp] | None = None) -> Sources:
    """What docqa answers from: the files under DOCQA_SOURCE_DIR, less those removed from the
    index (`read_excluded`, listed in `Sources.excluded`), and the files under DOCQA_UPLOAD_DIR
    as "uploads/<name>". An upload whose id a source file has is skipped, so ids stay unique.
    A file whose stamp in `known` (the index's) still holds is not read: it is listed in
    `Sources.unchanged`. Raises SourceError as `load_sources` does."""
    _check_source_dir(settings.source_dir)
    limits = Limits(settings.max_file_chars, settings.max_pdf_pages)
    source, uploads = settings.source_dir, settings.upload_dir
    known = known or {}
    own = _read_folder(
        source,
        "",
        settings.max_file_mb,
        limits,
        uploads,
        excluded=read_excluded(settings),
        known=known,
    )
    taken = {document.doc_id for document in own.documents} | set(own.unchanged)
    taken |= {item.name for item in own.skipped} | set(own.excluded)
    added = Sources(())
    if uploads.is_dir():
        added = _read_folder(
            uploads, UPLOADS, settings.max_file_mb, limits, source, taken=taken, known=known
        )
    both = Sources(
        own.documents + added.documents,
        tuple(sorted(own.skipped + added.skipped, key=lambda item: item.name)),
        own.excluded,
        own.unchanged + added.unchanged,
        {**own.stamps, **added.stamps},
    )
    return _checked(source, both)


def source_path(settings: Settings, doc_id: str) -> Path:
    """The file a doc id names: an upload's ("uploads/a.txt") under DOCQA_UPLOAD_DIR, anything
    else under DOCQA_SOURCE_DIR."""
    if is_upload(settings, doc_id):
        return settings.upload_dir / doc_id.removeprefix(UPLOADS)
    return settings.source_dir / doc_id


def is_upload(settings: Settings, doc_id: str) -> bool:
    """True when `doc_id` names a file of the upload folder: it starts "uploads/" and the
    source folder has no file of that name (which keeps the id, as `load_collection` does)."""
    own = settings.source_dir / doc_id
    return doc_id.startswith(UPLOADS) and not (own.is_symlink() or own.exists())


def excluded_path(settings: Settings) -> Path:
    """The exclusion list, kept with the index: the source files removed from it."""
    return settings.index_dir / f"{settings.collection}-excluded.json"


def read_excluded(settings: Settings) -> frozenset[str]:
    """The doc ids of the source folder's files removed from the index (none when no list)."""
    path = excluded_path(settings)
    try:
        names = json.loads(path.read_text(encoding="utf-8"))["excluded"]
    except FileNotFoundError:
        return frozenset()
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SourceError(
            f"the list of documents removed from the index, {path}, cannot be read ({error}): "
            "delete it to index every document again"
        ) from None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise SourceError(
            f"the list of documents removed from the index, {path}, is not a list of names: "
            "delete it to index every document again"
        )
    return frozenset(names)


def set_excluded(settings: Settings, doc_id: str, excluded: bool) -> bool:
    """Remove the source file `doc_id` from the index (`excluded`) or restore it; the file
    itself is never touched. Returns whether the list changed (False: it was already so).

    The list is read, changed and written under a lock (one for this process's threads, a
    file lock for other processes), so changes made at once are all kept; it is written to a
    temporary file of its own and renamed over the list, so a reader never sees half of it.
    Raises SourceError, as `read_excluded` does, when the list cannot be read."""
    path = excluded_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _excluded_lock(path):
        names = set(read_excluded(settings))
        if (doc_id in names) == excluded:
            return False
        names = names | {doc_id} if excluded else names - {doc_id}
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(json.dumps({"excluded": sorted(names)}, indent=1))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return True


_EXCLUDED_THREADS = threading.Lock()  # flock alone would do; this keeps threads off the file


@contextlib.contextmanager
def _excluded_lock(path: Path) -> Iterator[None]:
    """Held while the exclusion list at `path` is read, changed and written."""
    with _EXCLUDED_THREADS, path.with_name(f".{path.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_source_dir(source_dir: Path) -> None:
    if not source_dir.is_dir():
        raise SourceError(
            f"source folder {source_dir} does not exist: create it with your documents "
            "(.txt, .md, .html, .pdf, .docx), or point DOCQA_SOURCE_DIR at one"
        )


def _read_folder(
    folder: Path,
    prefix: str,
    max_file_mb: int,
    limits: Limits,
    leave_out: Path | None = None,
    excluded: frozenset[str] = frozenset(),
    taken: set[str] | frozenset[str] = frozenset(),
    known: Mapping[str, Stamp] | None = None,
) -> Sources:
    """The documents under `folder`, their ids `prefix` + path inside it; the folder
    `leave_out` (another folder docqa reads) is not entered, ids in `excluded` are not read,
    ids in `taken` are skipped, and files whose stamp in `known` holds are listed as
    unchanged without being read."""
    root = folder.resolve()
    known = known or {}
    documents: list[Document] = []
    linked: list[Skipped] = []  # links to folders, named inside `folder`
    hidden: list[str] = []
    unchanged: list[str] = []
    stamps: dict[str, Stamp] = {}
    paths = _visible_files(folder, linked, leave_out)
    skipped = [replace(item, name=prefix + item.name) for item in linked]
    links = _links_inside(paths)
    for path in paths:
        name = prefix + path.relative_to(folder).as_posix()
        if name in excluded:
            hidden.append(name)
            continue
        if name in taken:
            read: Document | str = (
                f"a file of the source folder has the same name, {name}: rename one of them"
            )
        else:
            status = _status(path)
            stamped = name in known and status is not None and known[name].unchanged(status)
            if stamped and not _unreadable(path, root, max_file_mb, links):  # still allowed
                unchanged.append(name)
                continue
            read = _read(path, name, root, max_file_mb, limits, links)
            if isinstance(read, Document) and status is not None:
                stamps[name] = Stamp.of(status)
        if isinstance(read, Document):
            documents.append(read)
        else:
            skipped.append(Skipped(name, read))
    return Sources(tuple(documents), tuple(skipped), tuple(hidden), tuple(unchanged), stamps)


def _status(path: Path) -> os.stat_result | None:
    """The `stat` of the file `path` leads to, before it is read (None when there is none):
    a stamp taken before reading can only be older than the text read, never newer."""
    try:
        return path.stat()
    except OSError:
        return None


def _checked(source_dir: Path, sources: Sources) -> Sources:
    """`sources` with its skipped files sorted; a SourceError when it holds no document."""
    skipped = tuple(sorted(sources.skipped, key=lambda item: item.name))
    if not sources.documents and not sources.unchanged:
        why = f" ({describe_skipped(skipped)})" if skipped else ""
        hidden = len(sources.excluded)
        if hidden:
            why += f" ({hidden} removed from the index: restore them from the UI's Documents)"
        raise SourceError(
            f"source folder {source_dir} holds no document docqa can read{why}: add .txt, "
            ".md, .html, .pdf or .docx files, or point DOCQA_SOURCE_DIR at the folder that "
            "has them"
        )
    return replace(sources, skipped=skipped)


def _read(
    path: Path, name: str, root: Path, max_file_mb: int, limits: Limits, links: Counter
) -> Document | str:
    """The document in the file at `path`, or why it is skipped. Nothing raised while one
    file is read stops the others from being read."""
    try:
        reason = _unreadable(path, root, max_file_mb, links)
        return reason or extract(path, name, limits)
    except ExtractionError as error:
        return str(error)
    except FileNotFoundError:
        return "it disappeared while it was being read"
    except OSError as error:
        return f"cannot read it: {error.strerror or error}"
    except Exception as error:  # a parser's own failure (lxml, pypdf, memory, recursion)
        detail = " ".join(str(error).split())
        if len(detail) > _DETAIL_CHARS:
            detail = detail[: _DETAIL_CHARS - 1] + "…"
        return f"could not be read ({type(error).__name__}{': ' + detail if detail else ''})"


def describe_skipped(skipped: Sequence[Skipped], shown: int = 5) -> str:
    """One line on the files that were skipped, or "" when there are none.

    describe_skipped([Skipped("a.pdf", "an encrypted PDF")]) ->
    "skipped 1 file: a.pdf (an encrypted PDF)"
    """
    if not skipped:
        return ""
    listed = "; ".join(f"{item.name} ({item.reason})" for item in skipped[:shown])
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    files = "1 file" if len(skipped) == 1 else f"{len(skipped)} files"
    return f"skipped {files}: {listed}{more}"


def _visible_files(
    source_dir: Path, skipped: list[Skipped], leave_out: Path | None = None
) -> list[Path]:
    """Every file under `source_dir`, sorted, except those in or under a dot name or in the
    folder `leave_out`. Links to folders are not followed (they could loop, or lead out of the
    folder): they are skipped."""
    found = []
    left_out = leave_out.resolve() if leave_out is not None else None
    for folder, folders, files in os.walk(source_dir, followlinks=False):
        here = Path(folder)
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and (here / name).resolve() != left_out
        )
        for name in folders:
            if (here / name).is_symlink():
                relative = (here / name).relative_to(source_dir).as_posix()
                skipped.append(Skipped(relative, "a link to a folder, which docqa does not follow"))
        found += [here / name for name in files if not name.startswith(".")]
    return sorted(found)


def _links_inside(paths: Sequence[Path]) -> Counter:
    """How many of `paths` are each file (device, inode): its hard links inside the folder.
    Links to files (symbolic ones) are not hard links and are not counted."""
    found: Counter = Counter()
    for path in paths:
        try:
            status = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            found[status.st_dev, status.st_ino] += 1
    return found


def _unreadable(path: Path, root: Path, max_file_mb: int, links: Counter) -> str:
    """Why `path` is not read before opening it, or ""."""
    if path.suffix.lower() not in SUFFIXES:
        return "not a format docqa reads (.txt, .md, .html, .pdf, .docx)"
    # The folders above it were walked without following links, so a file that is not a
    # link is itself; only a link needs resolving (the costly part of a large folder).
    target = path
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            return "a link to a file that does not exist"
        except (RuntimeError, OSError):
            return "a link that loops"
        if not target.is_relative_to(root):
            return "a link to a file outside the source folder"
    if not target.is_file():
        return "not a regular file"
    status = target.stat()
    if status.st_nlink > max(1, links[status.st_dev, status.st_ino]):
        # Another name of the same file lies outside the folder (or in a hidden part of it):
        # reading it could quote a file the folder's owner never put there.
        return "a hard link (it may be a file outside the source folder): copy the file in"
    if status.st_size == 0:
        return "empty"
    if status.st_size > max_file_mb * 1024 * 1024:
        size = status.st_size / 1024 / 1024
        return f"{size:,.1f} MB, over the {max_file_mb} MB limit (DOCQA_MAX_FILE_MB)"
    return ""


def content_hash(document: Document) -> str:
    """A digest of one document's id, text, pages and headings; it changes when any does."""
    digest = hashlib.sha256()
    digest.update(document.doc_id.encode("utf-8"))
    digest.update(b"\0")
    digest.update(document.text.encode("utf-8"))
    digest.update(f"\0{document.pages}\0{document.headings}".encode())
    return digest.hexdigest()
