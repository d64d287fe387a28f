"""Finding and reading the source files, keeping their text exactly as on disk."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from rag.errors import SourceError
from rag.types import Document

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})


def load_documents(source_dir: Path) -> list[Document]:
    """Read every text file under `source_dir`, sorted by path.

    Raises SourceError, naming the folder or file, when the folder is missing, holds no
    text files, or a file cannot be read as UTF-8.
    """
    if not source_dir.is_dir():
        raise SourceError(
            f"source folder {source_dir} does not exist: create it with your .txt or .md "
            "files, or point DOCQA_SOURCE_DIR at one"
        )
    paths = [path for path in _visible_files(source_dir) if path.suffix.lower() in TEXT_SUFFIXES]
    if not paths:
        suffixes = ", ".join(sorted(TEXT_SUFFIXES))
        raise SourceError(
            f"source folder {source_dir} holds no text files ({suffixes}): add some, or "
            "point DOCQA_SOURCE_DIR at the folder that has them"
        )
    documents = [read_document(path, source_dir) for path in paths]
    if not any(document.text.strip() for document in documents):
        raise SourceError(f"every file in {source_dir} is empty: add some text to answer from")
    return documents


def skipped_files(source_dir: Path) -> list[str]:
    """Files under `source_dir` that docqa does not read because they are not text files
    (say, .html or .pdf), as paths relative to the folder; hidden ones are not counted."""
    if not source_dir.is_dir():
        return []
    return [
        path.relative_to(source_dir).as_posix()
        for path in _visible_files(source_dir)
        if path.suffix.lower() not in TEXT_SUFFIXES
    ]


def describe_skipped(names: Sequence[str], shown: int = 5) -> str:
    """One line on the files `skipped_files` found, or "" when there are none.

    describe_skipped(["a.pdf"]) -> "skipped 1 file that is not text (a.pdf): docqa reads
    .markdown, .md, .text and .txt files"
    """
    if not names:
        return ""
    listed = ", ".join(names[:shown]) + (
        f" and {len(names) - shown} more" if len(names) > shown else ""
    )
    files = "1 file that is" if len(names) == 1 else f"{len(names)} files that are"
    suffixes = sorted(TEXT_SUFFIXES)
    readable = ", ".join(suffixes[:-1]) + f" and {suffixes[-1]}"
    return f"skipped {files} not text ({listed}): docqa reads {readable} files"


def _visible_files(source_dir: Path) -> list[Path]:
    """Every regular file under `source_dir`, sorted, except those in or under a dot name."""
    return sorted(
        path
        for path in source_dir.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(source_dir).parts)
    )


def read_document(path: Path, source_dir: Path) -> Document:
    """One file as a Document; its id is the path relative to `source_dir`."""
    doc_id = path.relative_to(source_dir).as_posix()
    try:
        # subtle: newline="" keeps "\r\n" as two characters, so offsets match the bytes on disk
        with path.open(encoding="utf-8", newline="") as handle:
            text = handle.read()
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{path} is not UTF-8 text (bad byte at offset {error.start}): save it as UTF-8 "
            "or move it out of the source folder"
        ) from None
    except OSError as error:
        raise SourceError(
            f"cannot read {path}: {error.strerror or error}; fix its permissions or move it "
            "out of the source folder"
        ) from None
    return Document(doc_id=doc_id, text=text)


def content_hash(document: Document) -> str:
    """A digest of one document's id and text; it changes when either does."""
    digest = hashlib.sha256()
    digest.update(document.doc_id.encode("utf-8"))
    digest.update(b"\0")
    digest.update(document.text.encode("utf-8"))
    return digest.hexdigest()
