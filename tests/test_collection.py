"""The collection docqa answers from (rag.documents.load_collection): the user's source folder
and docqa's own upload folder read together with unique ids, and the exclusion list kept with
the index, which hides a source file without touching it."""

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
    excluded_path,
    is_upload,
    load_collection,
    read_excluded,
    set_excluded,
    source_path,
)
from rag.errors import SourceError
from rag.settings import Settings
from tests.conftest import ARTICLE_ID, ROOT, SEEDS
from webui.collection import UploadError, remove_document, restore_document


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
