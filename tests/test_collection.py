"""The collection docqa answers from (rag.documents.load_collection): the user's source folder
and docqa's own upload folder read together with unique ids, and the exclusion list kept with
the index, which hides a source file without touching it."""

from __future__ import annotations

import json
import shutil
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
from tests.conftest import ARTICLE_ID, SEEDS


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
