"""The Chroma index: built on demand, refreshed only when sources change, self-healing."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chain import DocQA
from rag.errors import SourceError
from rag.settings import Settings
from tests.conftest import ARTICLE_ID


def _engine(source_dir: Path, index_dir: Path) -> DocQA:
    return DocQA(Settings.from_env({}, source_dir=source_dir, index_dir=index_dir))


def test_first_build_embeds_every_sentence_second_none(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    first = _engine(source_dir, index_dir).index()
    assert first.documents == 1 and first.chunks > 5
    assert first.embedded == first.sentences > first.chunks
    assert first.clauses > first.sentences // 2  # the article's long sentences have clauses
    assert first.changed == (ARTICLE_ID,)

    # A new process (new engine, new client) finds everything in place.
    second = _engine(source_dir, index_dir).index()
    assert second.embedded == 0 and second.changed == () and second.chunks == first.chunks


def test_editing_a_source_reindexes_only_that_document(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    (source_dir / "other.txt").write_text("Tom bought apples. He ate them.", encoding="utf-8")
    built = _engine(source_dir, index_dir).index()
    assert set(built.changed) == {ARTICLE_ID, "other.txt"}

    (source_dir / "other.txt").write_text("Tom bought pears on Monday.", encoding="utf-8")
    engine = _engine(source_dir, index_dir)
    report = engine.index()
    assert report.changed == ("other.txt",) and report.embedded == 1
    result = engine.answer("What did Tom buy?")
    assert not result.abstained and "pears" in result.text

    (source_dir / "other.txt").unlink()
    report = _engine(source_dir, index_dir).index()
    assert report.removed == ("other.txt",) and report.embedded == 0
    assert report.chunks == built.chunks - 1


def test_answer_builds_a_missing_index(source_dir: Path, isolated_index: Path) -> None:
    from rag import answer

    assert not isolated_index.exists()
    result = answer("How many ballistic missiles did North Korea fire?")
    assert "two ballistic missiles" in result.text
    assert (isolated_index / "chroma").is_dir()


def test_unreadable_source_keeps_the_index(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    built = _engine(source_dir, index_dir).index()
    (source_dir / "bad.txt").write_bytes(b"\xff\xfe broken")
    with pytest.raises(SourceError, match=r"bad\.txt"):
        _engine(source_dir, index_dir).index()
    (source_dir / "bad.txt").unlink()
    again = _engine(source_dir, index_dir).index()
    assert again.embedded == 0 and again.chunks == built.chunks


@pytest.mark.parametrize("damage", ["garbage-sqlite", "truncated-sqlite", "missing-segment"])
def test_damaged_index_is_detected_and_rebuilt(
    source_dir: Path, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    index_dir = tmp_path / "idx"
    built = _engine(source_dir, index_dir).index()
    _engine(source_dir, index_dir).store.close()
    chroma = index_dir / "chroma"
    sqlite = chroma / "chroma.sqlite3"
    if damage == "garbage-sqlite":
        sqlite.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated-sqlite":
        sqlite.write_bytes(sqlite.read_bytes()[:4096])
    else:
        for segment in [p for p in chroma.iterdir() if p.is_dir()]:
            for file in segment.iterdir():
                file.write_bytes(b"")

    engine = _engine(source_dir, index_dir)
    report = engine.index()
    if damage == "missing-segment" and not report.recovered:
        # Chroma rebuilds emptied vector files from its log; then nothing is damaged, and
        # answers must be as good as before.
        assert "two" in engine.answer("How many ballistic missiles did North Korea fire?").text
        return
    assert report.recovered, "the damage went unnoticed"
    assert "damaged" in caplog.text
    assert report.embedded == built.embedded and report.chunks == built.chunks
    result = engine.answer("How many ballistic missiles did North Korea fire?")
    assert "two" in result.text


@pytest.mark.parametrize("kind", ["chunks", "sentences", "clauses"])
def test_rows_missing_from_the_manifest_count_as_damage(
    source_dir: Path, tmp_path: Path, kind: str
) -> None:
    index_dir = tmp_path / "idx"
    engine = _engine(source_dir, index_dir)
    engine.index()
    collection = engine.store._collection(kind)
    collection.delete(ids=[collection.get(limit=1)["ids"][0]])  # a half-written index
    report = _engine(source_dir, index_dir).index()
    assert "manifest" in report.recovered


def test_phrases_are_found_at_indexing_and_loaded_from_the_index(
    source_dir: Path, tmp_path: Path
) -> None:
    from rag.answer_types import find_phrases

    index_dir = tmp_path / "idx"
    _engine(source_dir, index_dir).index()
    fresh = _engine(source_dir, index_dir)  # a new process: nothing re-derived but from disk
    corpus = fresh.corpus
    stored = fresh.store.phrases(corpus.sentences)
    found = list(find_phrases(sentence.text for sentence in corpus.sentences))
    assert stored == found == corpus.sentence_phrases
    assert any(phrase.label == "CARDINAL" for phrases in stored for phrase in phrases)
