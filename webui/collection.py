"""The documents in the source folder, managed from the page: an uploaded file is checked
(type, size), given a safe name that no file there has yet and stored only directly under the
source folder; a listed file can be removed. Re-indexing is the app state's job
(`AppState.reindex`)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from rag.documents import Skipped
from rag.errors import DocQAError
from rag.extract import SUFFIXES
from rag.types import Document

MAX_NAME_CHARS = 120  # a stored file's name, suffix included
MAX_NAME_TRIES = 1000  # "name (2).txt" ... "name (1000).txt", then the upload is refused
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadError(DocQAError):
    """An uploaded file that is not stored: wrong type, too large, or no usable name."""


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


def store_upload(source_dir: Path, upload: Path, name: str, max_file_mb: int) -> str:
    """Copy the uploaded file `upload` (sent as `name`) into `source_dir` under a safe name
    that no entry there has, compared as the eye reads them (NFKC, casefolded: "Ferry.TXT",
    "ｆｅｒｒｙ.txt" and "ferry.txt" are one name); a taken name gets a number, "ferry (2).txt".
    Never replaces a file; returns the name stored. An UploadError says what is wrong."""
    stored = safe_name(name)
    size = upload.stat().st_size
    if size > max_file_mb * 1024 * 1024:
        raise UploadError(
            f"{name!r} is {size / 1024 / 1024:.1f} MB, over the {max_file_mb} MB limit: "
            "split it, or raise DOCQA_MAX_FILE_MB"
        )
    folder = source_dir.resolve()
    # Written beside the target and linked into place, so an index never reads half a file.
    handle, temporary = tempfile.mkstemp(prefix=".upload-", dir=folder)
    os.close(handle)
    try:
        shutil.copyfile(upload, temporary)
        taken = {_folded(entry) for entry in os.listdir(folder)}
        for candidate in _numbered(stored):
            if _folded(candidate) in taken:
                continue
            try:
                os.link(temporary, folder / candidate)  # subtle: fails, never replaces, if taken
            except FileExistsError:
                continue
            return candidate
    finally:
        Path(temporary).unlink(missing_ok=True)
    raise UploadError(f"{name!r} cannot be stored: {stored!r} and its numbered names are taken")


def _numbered(name: str) -> Iterator[str]:
    """name, then "stem (2).suffix", "stem (3).suffix" ..., each within MAX_NAME_CHARS."""
    yield name
    stem, suffix = name[: -len(Path(name).suffix)], Path(name).suffix
    for number in range(2, MAX_NAME_TRIES + 1):
        tail = f" ({number}){suffix}"
        yield stem[: MAX_NAME_CHARS - len(tail)] + tail


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def remove_document(source_dir: Path, doc_id: str) -> None:
    """Delete the entry named `doc_id` under `source_dir`: a link itself, never the file it
    points to, and never anything outside the folder (no "..", no linked folder out of it)."""
    folder = source_dir.resolve()
    target = source_dir / doc_id
    within = target.parent.resolve()
    if (
        Path(doc_id).is_absolute()
        or ".." in Path(doc_id).parts
        or (within != folder and folder not in within.parents)
        or not (target.is_symlink() or target.is_file())
    ):
        raise UploadError(f"no document {doc_id!r} in the source folder: refresh the list")
    target.unlink()


def removable(source_dir: Path, rows: Sequence[Sequence[str]]) -> list[str]:
    """The names of the documents table (`document_rows`) that are still there to remove:
    indexed, skipped or waiting files, and links."""
    return [
        name
        for name, *_ in rows
        if (source_dir / name).is_symlink() or (source_dir / name).is_file()
    ]


def document_rows(
    source_dir: Path, documents: Mapping[str, Document], skipped: Sequence[Skipped] = ()
) -> list[list[str]]:
    """Rows [name, size, status] for the documents table: each indexed document, each file
    that was skipped (with why), and each file waiting for the next index."""
    reasons = {item.name: item.reason for item in skipped}
    names = set(documents) | set(reasons)
    folder = source_dir.resolve()
    if folder.is_dir():
        names |= {
            path.relative_to(folder).as_posix()
            for path in folder.rglob("*")
            if path.is_file()
            and path.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        }
    rows = []
    for name in sorted(names):
        path = folder / name
        size = _size(path.stat().st_size) if path.is_file() else "gone"
        if name in reasons:
            status = f"skipped: {reasons[name]}"
        elif name in documents:
            status = "indexed" if path.is_file() else "removed: leaves at the next index"
        else:
            status = "waiting for the index"
        rows.append([name, size, status])
    return rows


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / 1024 / 1024:.1f} MB"
