"""Loading sources: exact text, clear errors that name the file."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rag.chain import DocQA
from rag.documents import (
    Skipped,
    Stamp,
    content_hash,
    describe_skipped,
    load_collection,
    load_sources,
)
from rag.errors import SourceError
from rag.extract import Limits
from rag.settings import Settings
from tests.conftest import ARTICLE_ID, SEEDS


def load_documents(folder: Path) -> list:
    return list(load_sources(folder).documents)


def test_loads_the_article_byte_for_byte() -> None:
    (document,) = load_documents(SEEDS)
    assert document.doc_id == ARTICLE_ID
    assert document.text.encode("utf-8") == (SEEDS / ARTICLE_ID).read_bytes()


def test_crlf_and_nested_paths_keep_offsets(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "note.md").write_bytes("Line one.\r\nLine “two”.\r\n".encode())
    (tmp_path / ".hidden.txt").write_text("secret")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (document,) = load_documents(tmp_path)
    assert document.doc_id == "sub/note.md"
    assert document.text == "Line one.\r\nLine “two”.\r\n"


def test_missing_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"does not exist.*DOCQA_SOURCE_DIR"):
        load_documents(tmp_path / "nowhere")


def test_folder_without_text_files(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"\0")
    with pytest.raises(SourceError, match=r"holds no document docqa can read \(skipped 1 file"):
        load_documents(tmp_path)


def test_only_empty_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("  \n")
    with pytest.raises(SourceError, match="empty"):
        load_documents(tmp_path)


def test_non_utf8_file_is_skipped_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    sources = load_sources(tmp_path)
    assert [document.doc_id for document in sources.documents] == ["good.txt"]
    (skipped,) = sources.skipped
    assert skipped.name == "latin.txt" and "not UTF-8" in skipped.reason
    assert "offset 3" in skipped.reason


def test_unreadable_file_is_skipped_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root reads every file, so the permission error is simulated: a case the real thing
    # cannot reach on this machine.
    (tmp_path / "good.txt").write_text("Fine.")
    locked = tmp_path / "locked.txt"
    locked.write_text("x")
    real_open = Path.open

    def guarded_open(self: Path, *args, **kwargs):
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    sources = load_sources(tmp_path)
    assert [document.doc_id for document in sources.documents] == ["good.txt"]
    assert sources.skipped == (Skipped("locked.txt", "cannot read it: Permission denied"),)


def test_a_file_over_the_size_limit_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "huge.txt").write_text("word " * 300_000)  # 1.4 MB
    sources = load_sources(tmp_path, max_file_mb=1)
    assert [document.doc_id for document in sources.documents] == ["good.txt"]
    (skipped,) = sources.skipped
    assert skipped.name == "huge.txt" and "over the 1 MB limit" in skipped.reason


def test_links_never_lead_out_of_the_folder_or_loop(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "deep").mkdir(parents=True)
    (source / "good.txt").write_text("Fine.")
    outside = tmp_path / "passwd.txt"
    outside.write_text("root:x:0:0")
    (source / "passwd.txt").symlink_to(outside)
    (source / "deep" / "up").symlink_to(source)  # a loop
    (source / "alias.txt").symlink_to(source / "good.txt")  # inside: read
    sources = load_sources(source)
    assert [document.doc_id for document in sources.documents] == ["alias.txt", "good.txt"]
    reasons = {item.name: item.reason for item in sources.skipped}
    assert reasons["passwd.txt"] == "a link to a file outside the source folder"
    assert reasons["deep/up"] == "a link to a folder, which docqa does not follow"


def test_links_and_folders_named_like_text_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing-target.txt")
    (tmp_path / "folder.txt").mkdir()
    (document,) = load_documents(tmp_path)
    assert document.doc_id == "good.txt"


def test_files_docqa_cannot_read_are_named_with_their_reasons(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("Read me.")
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "page.html").write_text("<p>Read too.</p><script>never()</script>")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("hidden")
    sources = load_sources(tmp_path)
    assert [document.doc_id for document in sources.documents] == ["deep/page.html", "story.txt"]
    assert sources.documents[0].text == "Read too."
    assert [item.name for item in sources.skipped] == ["photo.png", "report.pdf"]
    note = describe_skipped(sources.skipped)
    assert note.startswith("skipped 2 files: photo.png (not a format docqa reads")
    assert "report.pdf (a damaged PDF" in note


def test_a_long_list_of_skipped_files_is_cut_short() -> None:
    skipped = [Skipped(f"scan-{number}.pdf", "an encrypted PDF") for number in range(8)]
    note = describe_skipped(skipped, shown=3)
    assert "scan-2.pdf (an encrypted PDF); and 5 more" in note and "scan-3" not in note
    assert describe_skipped([]) == ""


def test_content_hash_changes_with_text_and_name() -> None:
    from rag.types import Document

    base = content_hash(Document("a.txt", "x"))
    assert base == content_hash(Document("a.txt", "x"))
    assert base != content_hash(Document("a.txt", "y"))
    assert base != content_hash(Document("b.txt", "x"))


def test_a_file_that_disappears_while_it_is_read_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deleting a file between listing the folder and reading it is a race the real thing
    # cannot hit on cue, so the read deletes it first.
    import rag.documents

    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "going.txt").write_text("Soon gone.")
    real_extract = rag.documents.extract

    def vanishing(path: Path, doc_id: str, limits: Limits):
        if path.name == "going.txt":
            path.unlink()
        return real_extract(path, doc_id, limits)

    monkeypatch.setattr(rag.documents, "extract", vanishing)
    sources = load_sources(tmp_path)
    assert [document.doc_id for document in sources.documents] == ["good.txt"]
    assert sources.skipped == (Skipped("going.txt", "it disappeared while it was being read"),)


# -- one bad file never stops the rest -----------------------------------------------------------


def test_empty_files_of_every_format_are_skipped(tmp_path: Path) -> None:
    # An empty file once became a document with no sentences, and broke the index for good.
    (tmp_path / "good.txt").write_text("Fine.")
    for name in ("empty.txt", "empty.md", "empty.html", "empty.pdf", "empty.docx"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "blank.txt").write_text(" \n\t \r\n")
    sources = load_sources(tmp_path)
    assert [document.doc_id for document in sources.documents] == ["good.txt"]
    reasons = {item.name: item.reason for item in sources.skipped}
    assert reasons.pop("blank.txt") == "empty (nothing but white space)"
    assert reasons == dict.fromkeys(
        ["empty.docx", "empty.html", "empty.md", "empty.pdf", "empty.txt"], "empty"
    )


def test_a_text_file_over_the_character_limit_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "long.txt").write_text(
        "é" * 1000, encoding="utf-8"
    )  # 1,000 characters, 2,000 bytes
    sources = load_sources(tmp_path, max_file_chars=999)
    assert [document.doc_id for document in sources.documents] == ["good.txt"]
    (skipped,) = sources.skipped
    assert skipped.name == "long.txt"
    assert skipped.reason.startswith("more than 999 characters of text, over the limit")
    assert "DOCQA_MAX_FILE_CHARS" in skipped.reason
    read = load_sources(tmp_path, max_file_chars=1000).documents
    assert [document.doc_id for document in read] == ["good.txt", "long.txt"]


def test_a_hard_link_to_a_file_outside_the_folder_is_skipped(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "good.txt").write_text("Fine.")
    outside = tmp_path / "secret.txt"
    outside.write_text("The launch code is 0000.")
    os.link(outside, source / "secret.txt")  # the same file, under a name in the folder
    (source / "twin-a.txt").write_text("Both names of this file are in the folder.")
    os.link(source / "twin-a.txt", source / "twin-b.txt")
    (source / ".drafts").mkdir()  # a link to a hidden file inside: no hard link at all
    (source / ".drafts" / "note.txt").write_text("A draft.")
    (source / "note.txt").symlink_to(source / ".drafts" / "note.txt")
    sources = load_sources(source)
    read = [document.doc_id for document in sources.documents]
    assert read == ["good.txt", "note.txt", "twin-a.txt", "twin-b.txt"]
    assert sources.skipped == (
        Skipped(
            "secret.txt",
            "a hard link (it may be a file outside the source folder): copy the file in",
        ),
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (MemoryError(), "could not be read (MemoryError)"),
        (
            RecursionError("maximum recursion depth exceeded"),
            "could not be read (RecursionError: maximum recursion depth exceeded)",
        ),
        (
            AssertionError("line one\n  line two " + "x" * 500),
            "could not be read (AssertionError: line one line two " + "x" * 181 + "…)",
        ),
    ],
    ids=["memory", "recursion", "long-message"],
)
def test_any_failure_while_reading_a_file_skips_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, reason: str
) -> None:
    # A parser that runs out of memory or trips over its own bug: the real parsers cannot be
    # made to on cue, so the HTML reader raises it.
    import rag.extract

    def crash(path: Path, doc_id: str, limits: Limits):
        raise error

    monkeypatch.setitem(rag.extract._READERS, ".html", crash)
    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "page.html").write_text("<p>Never read.</p>")
    sources = load_sources(tmp_path)
    assert [document.doc_id for document in sources.documents] == ["good.txt"]
    assert sources.skipped == (Skipped("page.html", reason),)


# -- stamps: a file is trusted unread only when nothing about it moved (issue 26) ---------

NOON = "The island ferry leaves at noon from pier four."
NINE = "The island ferry leaves at nine from pier five."  # the same size
LONG_AGO_NS = time.time_ns() - 3600 * 10**9


def _written(path: Path, text: str, mtime_ns: int = LONG_AGO_NS) -> os.stat_result:
    """Write `text` to `path` and put its mtime at `mtime_ns` (`touch -r`); a later write
    lands in a later clock tick of the file system, as any edit after an index does."""
    time.sleep(0.05)
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path.stat()


def test_a_stamp_holds_only_when_size_mtime_inode_and_ctime_all_match(tmp_path: Path) -> None:
    ferry = tmp_path / "ferry.txt"
    stamp = Stamp.of(_written(ferry, NOON))
    assert stamp.unchanged(ferry.stat())  # written an hour "ago": trusted unread

    # A same-size edit with its mtime put back: only the change time tells.
    edited = _written(ferry, NINE)
    assert (edited.st_size, edited.st_mtime_ns, edited.st_ino) == (
        stamp.size,
        stamp.mtime_ns,
        stamp.ino,
    )
    assert not stamp.unchanged(edited)

    # Another file of the same size and mtime moved over it: a new inode.
    stamp = Stamp.of(ferry.stat())
    other = tmp_path / "elsewhere.txt"
    _written(other, NOON)
    os.replace(other, ferry)
    assert (ferry.stat().st_size, ferry.stat().st_mtime_ns) == (stamp.size, stamp.mtime_ns)
    assert not stamp.unchanged(ferry.stat())


def test_a_stamp_taken_just_after_a_write_is_racy_and_never_trusted(tmp_path: Path) -> None:
    """git's "racily clean" rule: a file modified in the clock tick its stat was recorded in
    could be modified again without its mtime moving, so its stamp is checked by content."""
    ferry = tmp_path / "ferry.txt"
    stamp = Stamp.of(_written(ferry, NOON, mtime_ns=time.time_ns()))
    assert stamp.racy and not stamp.unchanged(ferry.stat())
    later = replace(stamp, seen_ns=stamp.mtime_ns + 3 * 10**9)
    assert not later.racy and later.unchanged(ferry.stat())


def test_a_stamp_of_an_older_index_without_inode_or_ctime_is_never_trusted(
    tmp_path: Path,
) -> None:
    ferry = tmp_path / "ferry.txt"
    status = _written(ferry, NOON)
    older = Stamp(status.st_size, status.st_mtime_ns, time.time_ns())
    assert not older.unchanged(status)


def test_load_collection_reads_a_same_size_edit_whose_mtime_was_put_back(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    settings = Settings.from_env({}, source_dir=sources, index_dir=tmp_path / "index")
    ferry = sources / "ferry.txt"
    _written(ferry, NOON)
    first = load_collection(settings)
    assert load_collection(settings, first.stamps).unchanged == ("ferry.txt",)
    _written(ferry, NINE)
    again = load_collection(settings, first.stamps)
    assert again.unchanged == () and [d.text for d in again.documents] == [NINE]


def _indexed(settings: Settings):
    engine = DocQA(settings)
    try:
        return engine.index()
    finally:
        engine.store.close()


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files read from now on."""
    import rag.documents

    read: list[str] = []
    real = rag.documents.extract

    def extract(path: Path, *rest: object):
        read.append(path.name)
        return real(path, *rest)

    monkeypatch.setattr(rag.documents, "extract", extract)
    return read


def test_the_index_notices_a_same_size_edit_and_a_file_moved_over_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe: `ferry.txt` indexed, rewritten at the same size, `touch -r` the old time,
    indexed again: "nothing changed", and the answer quoted text no longer in the file."""
    sources = tmp_path / "sources"
    sources.mkdir()
    settings = Settings.from_env({}, source_dir=sources, index_dir=tmp_path / "index")
    ferry = sources / "ferry.txt"
    _written(ferry, NOON)
    _indexed(settings)
    read = _reads(monkeypatch)
    assert _indexed(settings).changed == () and read == []  # as indexed: not read

    _written(ferry, NINE)
    assert _indexed(settings).changed == ("ferry.txt",)
    engine = DocQA(settings)
    answer = engine.answer("When does the island ferry leave?")
    quotes = " ".join(citation.quote for citation in answer.citations)
    assert "nine from pier five" in quotes and "noon" not in quotes
    engine.store.close()

    other = tmp_path / "ferry.txt"  # same size, same mtime, other text, moved over it
    _written(other, NOON)
    os.replace(other, ferry)
    assert _indexed(settings).changed == ("ferry.txt",)

    # Touched only (a new change time, the same text): read and hashed, nothing derived, and
    # its new stamp kept, so the next index does not read it.
    read.clear()
    os.chmod(ferry, 0o644)
    report = _indexed(settings)
    assert read == ["ferry.txt"] and report.changed == () and report.embedded == 0
    assert _indexed(settings).changed == () and read == ["ferry.txt"]


def test_rows_of_an_older_index_load_and_their_files_are_hashed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index written before stamps kept inode and change time still serves; each file is
    read once to compare its content hash, nothing is derived, and it is stamped anew."""
    import rag.store.rows

    sources = tmp_path / "sources"
    sources.mkdir()
    settings = Settings.from_env({}, source_dir=sources, index_dir=tmp_path / "index")
    _written(sources / "ferry.txt", NOON)
    real = rag.store.rows.stamp_fields

    def older(stamp):  # what an index written before issue 26 recorded
        return {key: value for key, value in real(stamp).items() if key in OLD_STAMP}

    with monkeypatch.context() as patch:
        patch.setattr(rag.store.rows, "stamp_fields", older)
        _indexed(settings)
    read = _reads(monkeypatch)
    report = _indexed(settings)
    assert read == ["ferry.txt"] and report.changed == () and report.embedded == 0
    assert _indexed(settings).embedded == 0 and read == ["ferry.txt"]  # stamped anew
    assert "noon" in DocQA(settings).answer("When does the island ferry leave?").text


OLD_STAMP = ("size", "mtime_ns", "seen_ns")
