"""Loading sources: exact text, clear errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.documents import Skipped, content_hash, describe_skipped, load_sources
from rag.errors import SourceError
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

    def vanishing(path: Path, doc_id: str):
        if path.name == "going.txt":
            path.unlink()
        return real_extract(path, doc_id)

    monkeypatch.setattr(rag.documents, "extract", vanishing)
    sources = load_sources(tmp_path)
    assert [document.doc_id for document in sources.documents] == ["good.txt"]
    assert sources.skipped == (Skipped("going.txt", "it disappeared while it was being read"),)
