"""Loading sources: exact text, clear errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.documents import content_hash, describe_skipped, load_documents, skipped_files
from rag.errors import SourceError
from tests.conftest import ARTICLE_ID, SEEDS


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
    with pytest.raises(SourceError, match="holds no text files"):
        load_documents(tmp_path)


def test_only_empty_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("  \n")
    with pytest.raises(SourceError, match="empty"):
        load_documents(tmp_path)


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(SourceError, match=r"latin\.txt is not UTF-8.*offset 3"):
        load_documents(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("x")
    path.chmod(0)
    with pytest.raises(SourceError, match=r"cannot read .*locked\.txt"):
        load_documents(tmp_path)


def test_unreadable_file_is_named_even_for_root(
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
    with pytest.raises(SourceError, match=r"cannot read .*locked\.txt: Permission denied"):
        load_documents(tmp_path)


def test_links_and_folders_named_like_text_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "broken.txt").symlink_to(tmp_path / "missing-target.txt")
    (tmp_path / "folder.txt").mkdir()
    (document,) = load_documents(tmp_path)
    assert document.doc_id == "good.txt"


def test_files_that_are_not_text_are_named_as_skipped(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("Read me.")
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "page.html").write_text("<p>Not read.</p>")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("hidden")
    assert [document.doc_id for document in load_documents(tmp_path)] == ["story.txt"]
    assert skipped_files(tmp_path) == ["deep/page.html", "report.pdf"]
    note = describe_skipped(skipped_files(tmp_path))
    assert note.startswith("skipped 2 files that are not text (deep/page.html, report.pdf)")
    assert ".txt" in note and ".md" in note


def test_a_long_list_of_skipped_files_is_cut_short() -> None:
    names = [f"scan-{number}.pdf" for number in range(8)]
    note = describe_skipped(names, shown=3)
    assert "scan-0.pdf, scan-1.pdf, scan-2.pdf and 5 more" in note and "scan-3" not in note
    assert describe_skipped([]) == ""


def test_content_hash_changes_with_text_and_name() -> None:
    from rag.types import Document

    base = content_hash(Document("a.txt", "x"))
    assert base == content_hash(Document("a.txt", "x"))
    assert base != content_hash(Document("a.txt", "y"))
    assert base != content_hash(Document("b.txt", "x"))
