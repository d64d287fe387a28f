"""Loading sources: exact text, clear errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.documents import Skipped, content_hash, describe_skipped, load_sources
from rag.errors import SourceError
from rag.extract import Limits
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
