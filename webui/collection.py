"""The documents, managed from the page: an uploaded file is checked (type, size), given a safe
name that no file there has yet and stored only directly under docqa's upload folder
(DOCQA_UPLOAD_DIR); removing an upload deletes docqa's copy, removing a file of the user's
source folder only hides it from the index (the exclusion list), and it can be restored.
Re-indexing is the app state's job (`AppState.reindex`)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from rag.documents import (
    UPLOADS,
    Skipped,
    is_upload,
    read_excluded,
    set_excluded,
    source_path,
)
from rag.errors import SourceError, UploadError
from rag.extract import SUFFIXES
from rag.settings import Settings
from rag.types import Document

MAX_NAME_CHARS = 120  # a stored file's name, suffix included
MAX_NAME_TRIES = 1000  # "name (2).txt" ... "name (1000).txt", then the upload is refused
EXCLUDED_STATUS = "removed; file kept"  # from the index only; Restore takes it back
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def allowed_types() -> list[str]:
    """The suffixes an upload may have (the formats docqa reads), sorted: [".docx", ...]."""
    return sorted(SUFFIXES)


def safe_name(name: str) -> str:
    """A file name that is safe to store under the source folder: no folders, no characters
    beyond letters, digits, ". _ -" and spaces, no leading dot, a known suffix.

    safe_name("../../etc/Évian notes.md") -> "Evian notes.md"; safe_name("x.exe") raises.
    """
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _UNSAFE.sub("_", base).strip(" ._")
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUFFIXES:
        raise UploadError(
            f"{name!r} is not a kind of file docqa reads: upload one of "
            f"{', '.join(allowed_types())}"
        )
    stem = stem.strip(" ._") or "document"
    return stem[: MAX_NAME_CHARS - len(suffix)] + suffix


def store_upload(settings: Settings, upload: Path, name: str) -> str:
    """Copy the uploaded file `upload` (sent as `name`) into the upload folder under a safe
    name that no document has, compared as the eye reads them (NFKC, casefolded: "Ferry.TXT",
    "ｆｅｒｒｙ.txt" and "ferry.txt" are one name, and "uploads/ferry.txt" of the source folder
    takes it too); a taken name gets a number, "ferry (2).txt". Never replaces a file;
    returns the document's id, "uploads/<name>". An UploadError says what is wrong."""
    stored = safe_name(name)
    size = upload.stat().st_size
    if size > settings.max_file_mb * 1024 * 1024:
        raise UploadError(
            f"{name!r} is {size / 1024 / 1024:.1f} MB, over the {settings.max_file_mb} MB "
            "limit: split it, or raise DOCQA_MAX_FILE_MB"
        )
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    folder = settings.upload_dir.resolve()
    # The source folder's own "uploads" folder would give its files the same ids.
    shadow = settings.source_dir / UPLOADS
    # Written beside the target and linked into place, so an index never reads half a file.
    handle, temporary = tempfile.mkstemp(prefix=".upload-", dir=folder)
    os.close(handle)
    try:
        shutil.copyfile(upload, temporary)
        taken = {_folded(entry) for entry in os.listdir(folder)}
        if shadow.is_dir():
            taken |= {_folded(entry) for entry in os.listdir(shadow)}
        for candidate in _numbered(stored):
            if _folded(candidate) in taken:
                continue
            try:
                os.link(temporary, folder / candidate)  # subtle: fails, never replaces, if taken
            except FileExistsError:
                continue
            return UPLOADS + candidate
    finally:
        Path(temporary).unlink(missing_ok=True)
    raise UploadError(
        f"{name!r} cannot be stored: {stored!r} and its numbered names are taken; rename the "
        "file, or remove uploads of that name"
    )


def _numbered(name: str) -> Iterator[str]:
    """name, then "stem (2).suffix", "stem (3).suffix" ..., each within MAX_NAME_CHARS."""
    yield name
    stem, suffix = name[: -len(Path(name).suffix)], Path(name).suffix
    for number in range(2, MAX_NAME_TRIES + 1):
        tail = f" ({number}){suffix}"
        yield stem[: MAX_NAME_CHARS - len(tail)] + tail


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def remove_document(settings: Settings, doc_id: str) -> str:
    """Take the document `doc_id` out of the collection and say how: an upload's file (a link
    itself, never the file it points to) is deleted; a file of the user's source folder is
    only hidden from the index, and stays on disk. Nothing outside the two folders (no "..",
    no linked folder out of them) is touched."""
    target = _listed_file(settings, doc_id)
    if is_upload(settings, doc_id):
        target.unlink()
        return f"Removed {doc_id} (docqa's copy of the upload is deleted)"
    set_excluded(settings, doc_id, excluded=True)
    return f"Removed {doc_id} from the index (your file stays in the source folder)"


def restore_document(settings: Settings, doc_id: str) -> str:
    """Index a source file removed from the index again. Whether it is on the list is looked
    at under the list's lock (`set_excluded`), so a Restore said done was done."""
    if not set_excluded(settings, doc_id, excluded=False):
        raise UploadError(f"{doc_id!r} was not removed from the index: refresh the list")
    return f"Restored {doc_id}"


def _listed_file(settings: Settings, doc_id: str) -> Path:
    """The file (or link) of `doc_id` inside its folder, else an UploadError."""
    target = source_path(settings, doc_id)
    upload = is_upload(settings, doc_id)
    folder = (settings.upload_dir if upload else settings.source_dir).resolve()
    within = target.parent.resolve()
    if (
        Path(doc_id).is_absolute()
        or ".." in Path(doc_id).parts
        or (within != folder and folder not in within.parents)
        or not (target.is_symlink() or target.is_file())
    ):
        raise UploadError(f"no document {doc_id!r} among the documents: refresh the list")
    return target


def exclusion_problem(settings: Settings) -> str | None:
    """What is wrong with the exclusion list, as `docqa index` says it (one line: delete it),
    or None when it reads. The page shows this line; the lists below then act as if no file
    had been removed, so the panel still shows, and Remove and Restore say the same line."""
    try:
        read_excluded(settings)
    except SourceError as error:
        return str(error)
    return None


def _hidden(settings: Settings) -> frozenset[str]:
    """The source files removed from the index; none while the list cannot be read (what
    `exclusion_problem` says)."""
    try:
        return read_excluded(settings)
    except SourceError:
        return frozenset()


def removable(settings: Settings, rows: Sequence[Sequence[str]]) -> list[str]:
    """The names of the documents table (`document_rows`) that are still there to remove:
    indexed, skipped or waiting files, and links; not those removed from the index."""
    hidden = _hidden(settings)
    return [
        name
        for name, *_ in rows
        if name not in hidden
        and (source_path(settings, name).is_symlink() or source_path(settings, name).is_file())
    ]


def restorable(settings: Settings) -> list[str]:
    """The source files removed from the index that are still there to restore."""
    return sorted(name for name in _hidden(settings) if source_path(settings, name).exists())


def document_rows(
    settings: Settings, documents: Mapping[str, Document], skipped: Sequence[Skipped] = ()
) -> list[list[str]]:
    """Rows [name, size, status] for the documents table: each indexed document, each file
    that was skipped (with why), each file waiting for the next index, and each source file
    removed from the index."""
    reasons = {item.name: item.reason for item in skipped}
    hidden = set(restorable(settings))
    names = set(documents) | set(reasons) | hidden
    names |= _files(settings.source_dir, "", settings.upload_dir)
    names |= _files(settings.upload_dir, UPLOADS, settings.source_dir)
    rows = []
    for name in sorted(names):
        path = source_path(settings, name)
        size = _size(path.stat().st_size) if path.is_file() else "gone"
        if name in hidden:
            status = EXCLUDED_STATUS
        elif name in reasons:
            status = f"skipped: {reasons[name]}"
        elif name in documents:
            status = "indexed" if path.is_file() else "removed: leaves at the next index"
        else:
            status = "waiting for the index"
        rows.append([name, size, status])
    return rows


def _files(folder: Path, prefix: str, other: Path) -> set[str]:
    """prefix + the path of each file of a format docqa reads under `folder`, except those
    under a dot name or in the folder `other`."""
    if not folder.is_dir():
        return set()
    root, left_out = folder.resolve(), other.resolve()
    nested = root in left_out.parents  # else `other` holds nothing of this folder
    return {
        prefix + path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix.lower() in SUFFIXES
        and not (nested and left_out in path.parents)
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    }


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / 1024 / 1024:.1f} MB"
