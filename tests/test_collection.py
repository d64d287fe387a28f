"""The collection docqa answers from (rag.documents.load_collection): the user's source folder
and docqa's own upload folder read together with unique ids, and the exclusion list kept with
the index, which hides a source file without touching it. Then the page's side of it
(webui.collection): uploads checked, safely named and stored, and documents removed and
restored."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag.chain import DocQA
from rag.documents import (
    Skipped,
    excluded_path,
    is_upload,
    load_collection,
    read_excluded,
    set_excluded,
    source_path,
)
from rag.errors import SourceError, UploadError
from rag.settings import Settings
from rag.types import Document
from tests.conftest import ARTICLE_ID, ROOT, SEEDS
from tests.ui_helpers import settings_over
from webui.collection import (
    EXCLUDED_STATUS,
    MAX_NAME_CHARS,
    document_rows,
    removable,
    remove_document,
    restorable,
    restore_document,
    safe_name,
    store_upload,
)


def _settings(tmp_path: Path, **values: object) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir(exist_ok=True)
    places = {"upload_dir": tmp_path / "uploads", "index_dir": tmp_path / "index"}
    return Settings.from_env({}, source_dir=sources, **{**places, **values})


def test_uploads_are_read_beside_the_source_folder_with_their_own_ids(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (settings.source_dir / "notes.txt").write_text("Mine.", encoding="utf-8")
    settings.upload_dir.mkdir()
    (settings.upload_dir / "notes.txt").write_text("Uploaded.", encoding="utf-8")
    sources = load_collection(settings)
    texts = {document.doc_id: document.text for document in sources.documents}
    assert texts == {"notes.txt": "Mine.", "uploads/notes.txt": "Uploaded."}
    assert source_path(settings, "uploads/notes.txt") == settings.upload_dir / "notes.txt"
    assert source_path(settings, "notes.txt") == settings.source_dir / "notes.txt"


def test_a_source_file_keeps_its_id_over_an_upload_of_the_same_id(tmp_path: Path) -> None:
    """The source folder's own uploads/a.txt and an uploaded a.txt would share an id: the
    user's file is read, the upload is skipped with why, and the id names one file."""
    settings = _settings(tmp_path)
    (settings.source_dir / "uploads").mkdir()
    (settings.source_dir / "uploads" / "a.txt").write_text("Mine.", encoding="utf-8")
    settings.upload_dir.mkdir()
    (settings.upload_dir / "a.txt").write_text("Uploaded.", encoding="utf-8")
    sources = load_collection(settings)
    assert [(d.doc_id, d.text) for d in sources.documents] == [("uploads/a.txt", "Mine.")]
    (skipped,) = sources.skipped
    assert skipped.name == "uploads/a.txt" and "same name" in skipped.reason
    assert not is_upload(settings, "uploads/a.txt")
    assert source_path(settings, "uploads/a.txt") == settings.source_dir / "uploads" / "a.txt"


def test_an_upload_folder_inside_the_source_folder_is_read_once(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    (sources / "docqa-uploads").mkdir(parents=True)
    (sources / "a.txt").write_text("Mine.", encoding="utf-8")
    (sources / "docqa-uploads" / "b.txt").write_text("Uploaded.", encoding="utf-8")
    settings = _settings(tmp_path, upload_dir=sources / "docqa-uploads")
    ids = [document.doc_id for document in load_collection(settings).documents]
    assert ids == ["a.txt", "uploads/b.txt"]


def test_an_excluded_source_file_is_hidden_and_kept(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (settings.source_dir / "a.txt").write_text("Alpha.", encoding="utf-8")
    (settings.source_dir / "b.txt").write_text("Beta.", encoding="utf-8")
    set_excluded(settings, "b.txt", excluded=True)
    assert json.loads(excluded_path(settings).read_text(encoding="utf-8")) == {
        "excluded": ["b.txt"]
    }
    assert excluded_path(settings).parent == settings.index_dir  # kept with the index
    sources = load_collection(settings)
    assert [document.doc_id for document in sources.documents] == ["a.txt"]
    assert sources.excluded == ("b.txt",)
    assert (settings.source_dir / "b.txt").read_text(encoding="utf-8") == "Beta."
    set_excluded(settings, "b.txt", excluded=False)
    assert read_excluded(settings) == frozenset()
    assert len(load_collection(settings).documents) == 2


def test_excluding_every_document_says_how_to_restore_them(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (settings.source_dir / "a.txt").write_text("Alpha.", encoding="utf-8")
    set_excluded(settings, "a.txt", excluded=True)
    with pytest.raises(SourceError, match="1 removed from the index: restore them"):
        load_collection(settings)


@pytest.mark.parametrize("content", ["{not json", '{"excluded": "a.txt"}', "[]", '{"x": []}'])
def test_an_unreadable_exclusion_list_says_what_to_do(tmp_path: Path, content: str) -> None:
    settings = _settings(tmp_path)
    (settings.source_dir / "a.txt").write_text("Alpha.", encoding="utf-8")
    settings.index_dir.mkdir()
    excluded_path(settings).write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match="delete it to index every document again"):
        load_collection(settings)


def test_the_index_leaves_out_an_excluded_document_and_takes_it_back(tmp_path: Path) -> None:
    """Through the real engine: a hidden document is no longer answered from, and a restored
    one is again; the file stays where it was throughout."""
    settings = _settings(tmp_path)
    shutil.copy(SEEDS / ARTICLE_ID, settings.source_dir / ARTICLE_ID)
    ferry = settings.source_dir / "ferry.txt"
    ferry.write_text("The island ferry left the harbour at noon on Friday.", encoding="utf-8")
    engine = DocQA(settings)
    engine.index()
    assert "ferry.txt" in engine.corpus.documents
    set_excluded(settings, "ferry.txt", excluded=True)
    engine.index()
    assert "ferry.txt" not in engine.corpus.documents and ferry.exists()
    asked = engine.answer("When did the island ferry leave the harbour?")
    assert all(citation.doc_id != "ferry.txt" for citation in asked.citations)
    set_excluded(settings, "ferry.txt", excluded=False)
    engine.index()
    asked = engine.answer("When did the island ferry leave the harbour?")
    assert asked.citations and asked.citations[0].doc_id == "ferry.txt"


# -- the exclusion list changed from many places at once (issue 26) -----------------------


def _sources(tmp_path: Path, count: int) -> tuple[Settings, list[str]]:
    settings = _settings(tmp_path)
    names = [f"d{number:02}.txt" for number in range(count)]
    for name in names:
        (settings.source_dir / name).write_text(f"Document {name}.", encoding="utf-8")
    return settings, names


def _at_once(calls: list) -> list:
    """Run each call in its own thread, all released together; their results, or errors."""
    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        try:
            return call()
        except Exception as error:  # the test reports what each one got
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_removes_and_restores_at_once_are_all_kept(tmp_path: Path) -> None:
    """Ten Removes at once: five failed with "No such file or directory" (one temporary name
    per process), and some reported "Removed" were not on the list."""
    settings, names = _sources(tmp_path, 20)
    for _round in range(3):
        done = _at_once([lambda name=name: remove_document(settings, name) for name in names])
        assert all(isinstance(said, str) and said.startswith("Removed") for said in done), done
        assert read_excluded(settings) == set(names)
        restoring, removing = names[:10], names[10:]
        done = _at_once(
            [lambda name=name: restore_document(settings, name) for name in restoring]
            + [lambda name=name: set_excluded(settings, name, excluded=True) for name in removing]
        )
        assert all(not isinstance(said, Exception) for said in done), done
        assert read_excluded(settings) == set(removing)  # each Restored is off the list
        _at_once([lambda name=name: restore_document(settings, name) for name in removing])
        assert read_excluded(settings) == frozenset()
    # No temporary file is left beside the list.
    assert not [path.name for path in settings.index_dir.iterdir() if path.suffix == ".tmp"]


def test_processes_changing_the_list_at_once_keep_every_change(tmp_path: Path) -> None:
    """Other processes (a `docqa` UI and another) serialise on a file lock beside the list."""
    settings, names = _sources(tmp_path, 90)
    go = tmp_path / "go"
    script = (
        "import os, sys, time\n"
        "from rag.documents import set_excluded\n"
        "from rag.settings import Settings\n"
        "settings = Settings.from_env({}, source_dir=sys.argv[1], index_dir=sys.argv[2])\n"
        "print('ready', flush=True)\n"
        "while not os.path.exists(sys.argv[3]):\n"
        "    time.sleep(0.001)\n"
        "for name in sys.argv[4:]:\n"
        "    set_excluded(settings, name, excluded=True)\n"
    )
    places = [str(settings.source_dir), str(settings.index_dir), str(go)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, *places, *names[part::3]],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for part in range(3)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
    go.touch()  # ...and this process's threads change it too, at the same moment
    _at_once([lambda name=name: remove_document(settings, name) for name in names[::9]])
    assert [worker.wait(120) for worker in workers] == [0, 0, 0]
    assert read_excluded(settings) == set(names)


def test_restore_of_a_file_not_removed_says_so_under_the_lock(tmp_path: Path) -> None:
    settings, names = _sources(tmp_path, 1)
    with pytest.raises(UploadError, match="was not removed from the index"):
        restore_document(settings, names[0])
    assert set_excluded(settings, names[0], excluded=True) is True
    assert set_excluded(settings, names[0], excluded=True) is False  # already on the list


# -- the page's side: uploads, removal and restore (webui.collection) ---------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/Évian notes.MD", "Evian notes.md"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("<img src=x onerror=alert(1)>.txt", "img src_x onerror_alert_1.txt"),
        ("a" * 300 + ".docx", "a" * (MAX_NAME_CHARS - 5) + ".docx"),
    ],
)
def test_safe_name_keeps_only_a_plain_name(sent: str, stored: str) -> None:
    assert safe_name(sent) == stored


@pytest.mark.parametrize("sent", ["run.exe", "noext", "archive.tar.gz", "..", ""])
def test_safe_name_refuses_what_docqa_does_not_read(sent: str) -> None:
    with pytest.raises(UploadError, match="upload one of"):
        safe_name(sent)


def test_an_upload_is_stored_only_under_the_upload_folder(tmp_path: Path) -> None:
    sources, sent_from = tmp_path / "sources", tmp_path / "sent"
    sources.mkdir()
    sent_from.mkdir()
    settings = settings_over(tmp_path, sources, max_file_mb=1)
    sent = sent_from / "x.txt"
    sent.write_text("Some text.", encoding="utf-8")
    assert store_upload(settings, sent, "../../outside.txt") == "uploads/outside.txt"
    uploads = settings.upload_dir
    assert (uploads / "outside.txt").read_text(encoding="utf-8") == "Some text."
    assert not (tmp_path / "outside.txt").exists() and list(sources.iterdir()) == []
    assert sorted(path.name for path in uploads.iterdir()) == ["outside.txt"]  # no temporary
    big = sent_from / "big.txt"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(UploadError, match="over the 1 MB limit"):
        store_upload(settings, big, "big.txt")
    assert not (uploads / "big.txt").exists()


def test_removing_deletes_an_upload_and_only_hides_a_source_file(tmp_path: Path) -> None:
    """An upload is docqa's copy: removing it deletes it. A file of the user's source folder
    is never deleted: it is left out of the index, listed, and can be restored."""
    sources = tmp_path / "sources"
    (sources / "sub").mkdir(parents=True)
    (sources / "sub" / "a.txt").write_text("A.", encoding="utf-8")
    (tmp_path / "keep.txt").write_text("Keep.", encoding="utf-8")
    settings = settings_over(tmp_path, sources)
    settings.upload_dir.mkdir()
    (settings.upload_dir / "b.txt").write_text("B.", encoding="utf-8")
    for doc_id in ("../keep.txt", "sub", "nothing.txt", "uploads/../../keep.txt"):
        with pytest.raises(UploadError):
            remove_document(settings, doc_id)
    assert (tmp_path / "keep.txt").exists()

    assert "deleted" in remove_document(settings, "uploads/b.txt")
    assert not (settings.upload_dir / "b.txt").exists()
    assert "stays in the source folder" in remove_document(settings, "sub/a.txt")
    assert (sources / "sub" / "a.txt").read_text(encoding="utf-8") == "A."
    assert read_excluded(settings) == {"sub/a.txt"}
    assert restorable(settings) == ["sub/a.txt"]
    rows = document_rows(settings, {"sub/a.txt": Document("sub/a.txt", "A.")})
    assert rows == [["sub/a.txt", "2 B", EXCLUDED_STATUS]]
    assert removable(settings, rows) == []  # restored, not removed again
    assert restore_document(settings, "sub/a.txt") == "Restored sub/a.txt"
    assert read_excluded(settings) == set() and restorable(settings) == []
    with pytest.raises(UploadError, match="was not removed"):
        restore_document(settings, "sub/a.txt")


def test_document_rows_list_indexed_skipped_and_waiting_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Indexed.", encoding="utf-8")
    (tmp_path / "new.md").write_text("# New", encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF")
    (tmp_path / "notes.bin").write_bytes(b"?")
    settings = settings_over(tmp_path, tmp_path)
    settings.upload_dir.mkdir()
    (settings.upload_dir / "up.txt").write_text("Up.", encoding="utf-8")
    documents = {"a.txt": Document("a.txt", "Indexed."), "gone.txt": Document("gone.txt", "x")}
    rows = document_rows(settings, documents, [Skipped("scan.pdf", "a PDF with no text")])
    assert rows == [
        ["a.txt", "8 B", "indexed"],
        ["gone.txt", "gone", "removed: leaves at the next index"],
        ["new.md", "5 B", "waiting for the index"],
        ["scan.pdf", "4 B", "skipped: a PDF with no text"],
        ["uploads/up.txt", "3 B", "waiting for the index"],  # once, though inside tmp_path
    ]


@pytest.mark.parametrize(
    "sent", ["ferry.txt", "ｆｅｒｒｙ.txt", "férry.txt", "FERRY.TXT", "Ferry.txt", "ferry.txt "]
)
def test_an_upload_never_replaces_a_document(tmp_path: Path, sent: str) -> None:
    sources, upload = tmp_path / "sources", tmp_path / "upload.txt"
    (sources / "uploads").mkdir(parents=True)
    settings = settings_over(tmp_path, sources)
    uploads = settings.upload_dir
    uploads.mkdir()
    (uploads / "ferry.txt").write_text("Old.", encoding="utf-8")
    (uploads / "Ferry (2).txt").write_text("Also old.", encoding="utf-8")
    # The source folder's own uploads/ferry (3).txt would have the id of a third upload.
    (sources / "uploads" / "FERRY (3).txt").write_text("Mine.", encoding="utf-8")
    upload.write_text("New.", encoding="utf-8")
    stored = store_upload(settings, upload, sent)
    assert stored.casefold() == "uploads/ferry (4).txt"
    assert (uploads / stored.removeprefix("uploads/")).read_text(encoding="utf-8") == "New."
    assert (uploads / "ferry.txt").read_text(encoding="utf-8") == "Old."
    assert (uploads / "Ferry (2).txt").read_text(encoding="utf-8") == "Also old."
    assert len(list(uploads.iterdir())) == 3  # and no temporary left behind


def test_a_long_name_keeps_its_number_within_the_limit(tmp_path: Path) -> None:
    settings, upload = settings_over(tmp_path, tmp_path / "sources"), tmp_path / "upload.txt"
    upload.write_text("x", encoding="utf-8")
    first = store_upload(settings, upload, "a" * 300 + ".md").removeprefix("uploads/")
    second = store_upload(settings, upload, "a" * 300 + ".md").removeprefix("uploads/")
    assert len(first) == len(second) == MAX_NAME_CHARS and second.endswith(" (2).md")


def test_removing_a_link_removes_the_link_never_its_target(tmp_path: Path) -> None:
    settings = settings_over(tmp_path, tmp_path / "sources")
    uploads = settings.upload_dir
    uploads.mkdir()
    (uploads / "real.txt").write_text("Real.", encoding="utf-8")
    (uploads / "alias.txt").symlink_to("real.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret.", encoding="utf-8")
    (uploads / "away.txt").symlink_to(outside / "secret.txt")
    (uploads / "linked").symlink_to(outside, target_is_directory=True)
    remove_document(settings, "uploads/alias.txt")
    assert not (uploads / "alias.txt").is_symlink()
    assert (uploads / "real.txt").read_text(encoding="utf-8") == "Real."
    remove_document(settings, "uploads/away.txt")  # a link out of the folder: the link goes
    assert (outside / "secret.txt").exists()
    for doc_id in (
        "uploads/linked/secret.txt",
        str(outside / "secret.txt"),
        "uploads/x/../../outside/secret.txt",
    ):
        with pytest.raises(UploadError, match="refresh the list"):
            remove_document(settings, doc_id)
    assert (outside / "secret.txt").read_text(encoding="utf-8") == "Secret."


def test_skipped_and_waiting_files_can_be_chosen_for_removal(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Indexed.", encoding="utf-8")
    (tmp_path / "new.md").write_text("# New", encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF")
    settings = settings_over(tmp_path, tmp_path)
    documents = {"a.txt": Document("a.txt", "Indexed."), "gone.txt": Document("gone.txt", "x")}
    rows = document_rows(settings, documents, [Skipped("scan.pdf", "a damaged PDF")])
    assert removable(settings, rows) == ["a.txt", "new.md", "scan.pdf"]  # not the gone one
