"""The Chroma index: built on demand, refreshed only for what changed, written as a new
generation beside the live one, never lost to a crash, a rival writer or a bad file."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rag.chunking
import rag.store.store
from rag.answer_types import find_phrases
from rag.chain import DocQA
from rag.errors import SettingsError, StoreError
from rag.indexing import fingerprint
from rag.settings import Settings
from tests.conftest import ARTICLE_ID, ROOT
from tests.files import long_text

QUESTION = "How many ballistic missiles did North Korea reportedly fire?"


def _engine(source_dir: Path, index_dir: Path, **overrides: object) -> DocQA:
    return DocQA(Settings.from_env({}, source_dir=source_dir, index_dir=index_dir, **overrides))


def _collections(index_dir: Path) -> list[str]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(index_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    try:
        return sorted(collection.name for collection in client.list_collections())
    finally:
        chromadb.api.client.SharedSystemClient.clear_system_cache()


def test_first_build_embeds_every_sentence_second_none(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    first = _engine(source_dir, index_dir).index()
    assert first.documents == 1 and first.chunks > 5
    assert first.embedded == first.sentences > first.chunks
    assert first.clauses > first.sentences // 2  # the article's long sentences have clauses
    assert first.changed == (ARTICLE_ID,) and first.generation == 1

    # A new process (new engine, new client) finds everything in place.
    second = _engine(source_dir, index_dir).index()
    assert second.embedded == 0 and second.changed == () and second.chunks == first.chunks
    assert second.generation == 1
    names = _collections(index_dir)
    assert names == sorted(
        [
            "docqa-live",
            *(f"docqa-g1-{kind}" for kind in ("documents", "chunks", "sentences", "clauses")),
        ]
    )


def test_adding_changing_and_deleting_a_file_embeds_only_that_file(
    source_dir: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "idx"
    built = _engine(source_dir, index_dir).index()

    (source_dir / "other.txt").write_text("Tom bought apples. He ate them.", encoding="utf-8")
    added = _engine(source_dir, index_dir).index()
    assert added.changed == ("other.txt",) and added.embedded == 2
    assert added.chunks == built.chunks + 1 and added.generation == 2

    (source_dir / "other.txt").write_text("Tom bought pears on Monday.", encoding="utf-8")
    engine = _engine(source_dir, index_dir)
    report = engine.index()
    assert report.changed == ("other.txt",) and report.embedded == 1
    result = engine.answer("What did Tom buy?")
    assert not result.abstained and "pears" in result.text

    (source_dir / "other.txt").unlink()
    report = _engine(source_dir, index_dir).index()
    assert report.removed == ("other.txt",) and report.embedded == 0
    assert report.chunks == built.chunks and report.generation == 4
    # Only the live generation is kept.
    assert [name for name in _collections(index_dir) if "-g" in name] == [
        f"docqa-g4-{kind}" for kind in ("chunks", "clauses", "documents", "sentences")
    ]


def test_a_serving_engine_picks_up_a_new_generation(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    serving = _engine(source_dir, index_dir)
    serving.index()
    (source_dir / ARTICLE_ID).write_text("Tom bought pears on Monday.", encoding="utf-8")
    _engine(source_dir, index_dir).index()  # another process rewrites the index
    result = serving.answer("What did Tom buy?")
    assert "pears" in result.text
    (citation,) = result.citations
    assert citation.quote == (source_dir / ARTICLE_ID).read_text()[citation.start : citation.end]


def test_answer_builds_a_missing_index(source_dir: Path, isolated_index: Path) -> None:
    from rag import answer

    assert not isolated_index.exists()
    result = answer("How many ballistic missiles did North Korea fire?")
    assert "two ballistic missiles" in result.text
    assert (isolated_index / "chroma").is_dir()


def test_an_unreadable_source_is_skipped_and_the_rest_kept(
    source_dir: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "idx"
    built = _engine(source_dir, index_dir).index()
    (source_dir / "bad.txt").write_bytes(b"\xff\xfe broken")
    again = _engine(source_dir, index_dir).index()
    assert again.embedded == 0 and again.chunks == built.chunks
    assert [item.name for item in again.skipped] == ["bad.txt"]
    assert "not UTF-8" in again.skipped[0].reason


def test_a_changed_chunking_rule_re_derives_the_index_by_itself(
    source_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "idx"
    settings = Settings.from_env({}, source_dir=source_dir, index_dir=index_dir)
    built = _engine(source_dir, index_dir).index()
    before = fingerprint(settings)

    monkeypatch.setattr(rag.chunking, "MIN_CLAUSE_WORDS", 3)
    assert fingerprint(settings) != before
    engine = _engine(source_dir, index_dir)
    report = engine.index()
    assert report.embedded == report.sentences and report.clauses > built.clauses
    assert "two" in engine.answer(QUESTION).text

    rechunked = _engine(source_dir, index_dir, chunk_sentences=2, chunk_overlap=1).index()
    assert rechunked.embedded == rechunked.sentences and rechunked.chunks > built.chunks


@pytest.mark.parametrize("damage", ["garbage-sqlite", "truncated-sqlite", "missing-segment"])
def test_a_damaged_database_is_set_aside_and_rebuilt(
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
    result = engine.answer(QUESTION)
    assert "two" in result.text
    if damage == "missing-segment" and not report.embedded:
        return  # Chroma rebuilt the emptied vector files from its log: nothing was damaged
    assert "damaged" in caplog.text
    assert report.embedded == built.embedded and report.chunks == built.chunks
    if damage != "missing-segment":  # the unreadable database is kept beside, not deleted
        (aside,) = index_dir.glob("chroma.damaged-*")
        assert (aside / "chroma.sqlite3").exists()


@pytest.mark.parametrize("kind", ["chunks", "sentences", "clauses", "documents"])
def test_rows_missing_from_a_generation_count_as_damage(
    source_dir: Path, tmp_path: Path, kind: str
) -> None:
    index_dir = tmp_path / "idx"
    engine = _engine(source_dir, index_dir)
    built = engine.index()
    client = engine.store.connection.client()
    collection = client.get_collection(f"docqa-g1-{kind}")
    collection.delete(ids=[collection.get(limit=1)["ids"][0]])  # a half-written generation
    with pytest.raises(StoreError, match=r"damaged .*run `docqa index`"):
        _engine(source_dir, index_dir).store.load_live_records()
    if kind != "documents":  # the documents' rows are read, so always counted
        # A serving process's start trusts the record's other counts (counting every row of
        # a large index takes long); `docqa index` counts them, finds the damage, rebuilds.
        assert not _engine(source_dir, index_dir).index(verify=False).recovered
    report = _engine(source_dir, index_dir).index()
    assert "the index's record says" in report.recovered or "does not list" in report.recovered
    assert report.generation == 2 and report.chunks == built.chunks


def test_a_bad_collection_name_deletes_nothing(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    _engine(source_dir, index_dir).index()
    with pytest.raises(SettingsError, match="DOCQA_COLLECTION must be letters"):
        _engine(source_dir, index_dir, collection="my docs!").index()
    again = _engine(source_dir, index_dir).index()
    assert again.embedded == 0 and again.generation == 1


def test_phrases_are_found_at_indexing_and_loaded_from_the_index(
    source_dir: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "idx"
    _engine(source_dir, index_dir).index()
    # A new process reads the records.
    (record,) = _engine(source_dir, index_dir).store.load_live_records()
    found = list(find_phrases(sentence.text for sentence in record.sentences))
    assert list(record.phrases) == found
    assert any(phrase.label == "CARDINAL" for phrases in record.phrases for phrase in phrases)


def _index_process(source_dir: Path, index_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "DOCQA_SOURCE_DIR": str(source_dir), "DOCQA_INDEX_DIR": str(index_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "index"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_kill_9_during_a_build_leaves_the_previous_index_serving(
    source_dir: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "idx"
    built = _engine(source_dir, index_dir).index()
    (source_dir / "long.txt").write_text(long_text(3000), encoding="utf-8")
    writer = _index_process(source_dir, index_dir)
    deadline = time.monotonic() + 120
    while not any("-g2-" in name for name in _collections(index_dir)):
        assert writer.poll() is None, writer.communicate()
        assert time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.05)
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    survivor = _engine(source_dir, index_dir)
    records = survivor.store.load_live_records()
    assert [record.doc_id for record in records] == [ARTICLE_ID]
    assert survivor.store.live_generation() == 1
    (source_dir / "long.txt").unlink()
    report = survivor.index()
    assert report.embedded == 0 and report.chunks == built.chunks
    assert "two" in survivor.answer(QUESTION).text


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(5))
def test_two_writers_at_once_leave_one_complete_index(
    source_dir: Path, tmp_path: Path, trial: int
) -> None:
    index_dir = tmp_path / "idx"
    (source_dir / "long.txt").write_text(long_text(100 + 50 * trial), encoding="utf-8")
    writers = [_index_process(source_dir, index_dir) for _ in range(2)]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], outputs
    assert sum("nothing changed" in out for out, _err in outputs) == 1, outputs
    engine = _engine(source_dir, index_dir)
    report = engine.index()
    assert report.embedded == 0 and report.documents == 2
    assert "two" in engine.answer(QUESTION).text


def test_a_file_that_turns_unreadable_keeps_its_indexed_copy(
    source_dir: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "idx"
    (source_dir / "other.txt").write_text("Tom bought pears on Monday.", encoding="utf-8")
    built = _engine(source_dir, index_dir).index()
    (source_dir / "other.txt").write_bytes(b"\xff\xfe half-saved")
    engine = _engine(source_dir, index_dir)
    report = engine.index()
    assert report.held == ("other.txt",) and report.removed == () and report.embedded == 0
    assert report.chunks == built.chunks and [item.name for item in report.skipped] == ["other.txt"]
    assert "pears" in engine.answer("What did Tom buy?").text
    (source_dir / "other.txt").unlink()  # gone for good: then it goes from the index
    gone = _engine(source_dir, index_dir).index()
    assert gone.removed == ("other.txt",) and gone.held == ()


def test_source_text_is_what_citations_point_into(source_dir: Path, tmp_path: Path) -> None:
    from rag.errors import SourceError

    engine = _engine(source_dir, tmp_path / "idx")
    result = engine.answer(QUESTION)
    text = engine.source_text(ARTICLE_ID)
    assert text == (source_dir / ARTICLE_ID).read_bytes().decode("utf-8")
    for citation in [*result.citations, result.short]:
        assert citation is not None and text[citation.start : citation.end] == citation.quote
    with pytest.raises(SourceError, match=r"no indexed document is called 'nope\.txt'"):
        engine.source_text("nope.txt")


def test_index_reports_its_progress_in_sentences(source_dir: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    report = _engine(source_dir, tmp_path / "idx").index(
        on_progress=lambda done, total: seen.append((done, total))
    )
    assert seen and seen[-1] == (report.embedded, report.embedded)
    assert [done for done, _total in seen] == sorted(done for done, _total in seen)


# -- one bad file never stops the index (issue 22) ------------------------------------------


def test_an_index_holding_a_document_without_sentences_loads(
    source_dir: Path, tmp_path: Path
) -> None:
    from rag.documents import load_sources
    from rag.types import Document

    index_dir = tmp_path / "idx"
    # An older build stored blank files (today's loader skips them): a record without
    # sentences, written through the store as that build did.
    older = _engine(source_dir, index_dir)
    article = load_sources(source_dir).documents
    older.store.sync([*article, Document("blank.txt", "  \n\n\t\n")])
    (blank,) = [
        record for record in older.store.load_live_records() if record.doc_id == "blank.txt"
    ]
    assert blank.sentences == () and blank.sentence_vectors.shape == (0, 384)

    engine = _engine(source_dir, index_dir)  # a new process: loads it, then drops the blank
    report = engine.index()
    assert not report.recovered and report.embedded == 0 and report.removed == ("blank.txt",)
    assert "two" in engine.answer(QUESTION).text


def test_rows_that_cannot_be_read_are_rebuilt_by_themselves(
    source_dir: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "idx"
    engine = _engine(source_dir, index_dir)
    built = engine.index()
    documents = engine.store.connection.client().get_collection("docqa-g1-documents")
    (doc_id,) = documents.get()["ids"]
    documents.update(ids=[doc_id], metadatas=[{"pages": "not JSON"}])  # rows no build reads

    report = _engine(source_dir, index_dir).index()
    assert "its rows cannot be read" in report.recovered
    assert report.embedded == built.embedded and report.generation == 2


def _refuse_poison(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """Make one stage of indexing raise for any text holding POISON (a fake: no real
    document makes chunking, spaCy or the model raise on demand)."""
    import rag.indexing
    from rag.embeddings import SentenceEmbeddings

    def check(texts: list[str]) -> None:
        if any("POISON" in text for text in texts):
            raise RuntimeError("this stage cannot take POISON")

    if stage == "chunk_document":
        real_chunk = rag.indexing.chunk_document

        def chunk(document, *rest):
            check([document.text])
            return real_chunk(document, *rest)

        monkeypatch.setattr(rag.indexing, stage, chunk)
    elif stage == "find_phrases":
        real_phrases = rag.indexing.find_phrases

        def phrases(texts):
            texts = list(texts)
            check(texts)
            return real_phrases(texts)

        monkeypatch.setattr(rag.indexing, stage, phrases)
    else:
        real_encode = SentenceEmbeddings.encode_with_parts

        def encode(self, texts, *rest):
            check(texts)
            return real_encode(self, texts, *rest)

        monkeypatch.setattr(SentenceEmbeddings, stage, encode)


@pytest.mark.parametrize(
    ("stage", "said"),
    [
        ("chunk_document", "splitting it into sentences"),
        ("find_phrases", "finding its phrases"),
        ("encode_with_parts", "embedding it"),
    ],
)
def test_a_document_that_breaks_a_stage_is_skipped_and_the_rest_indexed(
    source_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, said: str
) -> None:
    index_dir = tmp_path / "idx"
    (source_dir / "held.txt").write_text("Tom bought pears on Monday.", encoding="utf-8")
    _engine(source_dir, index_dir).index()
    _refuse_poison(monkeypatch, stage)
    (source_dir / "held.txt").write_text("Tom bought POISON apples.", encoding="utf-8")
    (source_dir / "new.txt").write_text("The POISON was never indexed.", encoding="utf-8")
    (source_dir / "good.txt").write_text("Ann sold three boats in May.", encoding="utf-8")

    engine = _engine(source_dir, index_dir)
    report = engine.index()
    reasons = {item.name: item.reason for item in report.skipped}
    assert sorted(reasons) == ["held.txt", "new.txt"] and said in reasons["new.txt"]
    assert report.changed == ("good.txt",) and report.held == ("held.txt",)
    assert report.documents == 3  # the article, good.txt and held.txt's copy indexed before
    assert "pears" in engine.answer("What did Tom buy?").text
    assert "three" in engine.answer("How many boats did Ann sell?").text

    # The failure is remembered with the file's content: unchanged, nothing is redone.
    again = _engine(source_dir, index_dir).index()
    assert again.embedded == 0 and again.generation == report.generation
    assert [item.name for item in again.skipped] == ["held.txt", "new.txt"]
    assert again.held == ("held.txt",)

    (source_dir / "new.txt").write_text("The cure was indexed at last.", encoding="utf-8")
    fixed = _engine(source_dir, index_dir).index()
    assert fixed.changed == ("new.txt",) and [i.name for i in fixed.skipped] == ["held.txt"]


def _stored_vectors(engine: DocQA) -> list:
    import numpy as np

    client = engine.store.connection.client()
    generation = engine.store.live_generation()
    vectors = []
    for kind in ("documents", "chunks", "sentences", "clauses"):
        got = client.get_collection(f"docqa-g{generation}-{kind}").get(include=["embeddings"])
        vectors += list(np.asarray(got["embeddings"]))
    return vectors


def test_nan_vectors_fail_their_document_only(
    source_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from rag.embeddings import SentenceEmbeddings

    real = SentenceEmbeddings.encode_with_parts

    def nan_for_poison(self, texts, *rest):
        vectors, parts = real(self, texts, *rest)
        for row, text in enumerate(texts):
            if "POISON" in text:
                vectors[row] = np.nan
        return vectors, parts

    monkeypatch.setattr(SentenceEmbeddings, "encode_with_parts", nan_for_poison)
    (source_dir / "bad.txt").write_text("Some POISON came out. The rest is fine.", encoding="utf-8")
    engine = _engine(source_dir, tmp_path / "idx")
    report = engine.index()
    (skipped,) = report.skipped
    assert skipped.name == "bad.txt" and "zero or not numbers" in skipped.reason
    assert report.documents == 1 and "two" in engine.answer(QUESTION).text
    norms = np.linalg.norm(np.asarray(_stored_vectors(engine)), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)


def test_zero_vectors_from_a_bad_batch_size_are_never_stored(
    source_dir: Path, tmp_path: Path
) -> None:
    import numpy as np

    index_dir = tmp_path / "idx"
    (source_dir / "other.txt").write_text("Tom bought pears on Monday.", encoding="utf-8")
    _engine(source_dir, index_dir).index()
    (source_dir / "other.txt").write_text("Tom bought apples on Friday.", encoding="utf-8")
    engine = _engine(source_dir, index_dir)
    engine.embeddings.batch_size = -1  # the real model then encodes nothing: zero vectors
    report = engine.index()
    assert [item.name for item in report.skipped] == ["other.txt"]
    assert "zero or not numbers" in report.skipped[0].reason
    assert report.held == ("other.txt",)
    reader = _engine(source_dir, index_dir)  # one that can encode a question
    assert "pears" in reader.answer("What did Tom buy?").text
    norms = np.linalg.norm(np.asarray(_stored_vectors(engine)), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)


def test_clauses_past_the_model_s_reach_get_their_sentence_s_vector(
    source_dir: Path, tmp_path: Path
) -> None:
    import numpy as np

    part = "the ferry number {} left the northern pier at dawn, which surprised the harbour master"
    # One sentence of 325 tokens (the model reads 256) whose last clauses lie past that.
    text = ", and ".join(part.format(n) for n in range(18)).capitalize() + "."
    (source_dir / "long-sentence.txt").write_text(text, encoding="utf-8")
    engine = _engine(source_dir, tmp_path / "idx")
    report = engine.index()
    assert report.skipped == () and report.documents == 2
    record = {r.doc_id: r for r in engine.store.load_live_records()}["long-sentence.txt"]
    assert len(record.sentences) == 1 and len(record.clause_vectors) == 19
    assert np.allclose(record.clause_vectors[-1], record.sentence_vectors[0])
    norms = np.linalg.norm(np.asarray(_stored_vectors(engine)), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)


def test_answering_never_waits_for_a_writer(
    source_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.store.chroma

    index_dir = tmp_path / "idx"
    _engine(source_dir, index_dir).index()
    monkeypatch.setattr(rag.store.chroma, "_LOCK_WAIT_S", 2)
    engine = _engine(source_dir, index_dir)
    writer = _engine(source_dir, index_dir).store
    with writer.connection.writer_lock():  # another writer holds the lock (flock: per open file)
        started = time.monotonic()
        assert engine.index().embedded == 0
        assert "two" in engine.answer(QUESTION).text
        assert time.monotonic() - started < 2
        (source_dir / "other.txt").write_text("Tom bought pears.", encoding="utf-8")
        with pytest.raises(StoreError, match="another docqa has been writing"):
            _engine(source_dir, index_dir).index()  # a change must wait for the lock


def test_an_unchanged_index_is_only_read(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    _engine(source_dir, index_dir).index()
    (index_dir / "index.lock").unlink()
    engine = _engine(source_dir, index_dir)
    assert engine.index().embedded == 0 and "two" in engine.answer(QUESTION).text
    assert not (index_dir / "index.lock").exists()  # no lock taken, nothing created


@contextlib.contextmanager
def _mounted(*commands: list[str], target: Path):
    """Run mount `commands` onto `target` (skipping the test where mounting is not
    permitted), and unmount it afterwards."""
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", str(target)], capture_output=True)
            pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    try:
        yield target
    finally:
        import chromadb

        chromadb.api.client.SharedSystemClient.clear_system_cache()
        subprocess.run(["umount", "-l", str(target)], check=True)


def test_a_read_only_index_answers(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    _engine(source_dir, index_dir).store.close()
    _engine(source_dir, index_dir).index()
    _engine(source_dir, index_dir).store.close()
    view = tmp_path / "read-only"
    view.mkdir()
    # Tests run as root, which ignores permission bits: a read-only mount binds root too.
    with _mounted(
        ["mount", "--bind", str(index_dir), str(view)],
        ["mount", "-o", "remount,bind,ro", str(view)],
        target=view,
    ):
        with pytest.raises(OSError, match="Read-only"):
            (view / "probe").write_text("x")
        engine = _engine(source_dir, view)
        assert engine.index().embedded == 0
        assert "two" in engine.answer(QUESTION).text
        (source_dir / "other.txt").write_text("Tom bought pears.", encoding="utf-8")
        with pytest.raises(StoreError, match="read-only or permission is denied"):
            _engine(source_dir, view).index()  # a change cannot be written there
        engine.store.close()


@pytest.mark.slow
def test_a_full_disk_is_named_and_the_previous_index_serves(
    source_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    index_dir = tmp_path / "small-disk"
    index_dir.mkdir()
    with _mounted(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "none", str(index_dir)], target=index_dir
    ):
        serving = _engine(source_dir, index_dir)
        built = serving.index()
        (source_dir / "long.txt").write_text(long_text(700), encoding="utf-8")  # over 3 MB
        with pytest.raises(StoreError, match=f"no space left on {index_dir}") as full:
            _engine(source_dir, index_dir).index()
        assert "the index built before goes on serving" in str(full.value)
        assert [name for name in _collections(index_dir) if "-g" in name] == [
            f"docqa-g1-{kind}" for kind in ("chunks", "clauses", "documents", "sentences")
        ]  # the half-written generation is gone
        assert "two" in serving.answer(QUESTION).text
        # `docqa ask` in a new process answers from that generation, without building.
        with monkeypatch.context() as patched:
            patched.setattr(rag.store.store, "derive", _no_build)
            asker = _engine(source_dir, index_dir)
            with caplog.at_level(logging.WARNING, logger="rag.store"):
                assert "two" in asker.answer(QUESTION).text
            assert "answering from the index built before" in caplog.text
            asker.store.close()
        (source_dir / "long.txt").unlink()
        again = _engine(source_dir, index_dir)
        report = again.index()
        assert report.embedded == 0 and report.chunks == built.chunks
        assert "two" in again.answer(QUESTION).text
        serving.store.close()
        again.store.close()


def _no_build(*args: object, **kwargs: object) -> None:
    raise AssertionError("a question tried to build the index on a full disk")


def test_leftovers_of_a_dead_build_do_not_block_the_next(source_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    engine = _engine(source_dir, index_dir)
    engine.index()
    engine.store.connection.client().create_collection("docqa-g2-documents")  # a build died here
    (source_dir / "other.txt").write_text("Tom bought pears on Monday.", encoding="utf-8")
    report = _engine(source_dir, index_dir).index()
    assert report.generation == 3 and report.changed == ("other.txt",)
    assert [name for name in _collections(index_dir) if "-g" in name] == [
        f"docqa-g3-{kind}" for kind in ("chunks", "clauses", "documents", "sentences")
    ]


def _folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _segment_folders(index_dir: Path) -> int:
    return sum(path.is_dir() for path in (index_dir / "chroma").iterdir())


def _report_text(number: int, version: int) -> str:
    return " ".join(
        f"Report {number}.{version}.{line} says ferry {line} of line {number} left pier "
        f"{line % 7} at {line % 12} o'clock on day {version}."
        for line in range(40)
    )


@pytest.mark.slow
def test_the_index_stays_its_size_across_re_indexes(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    for number in range(20):
        (sources / f"d{number}.txt").write_text(_report_text(number, 0), encoding="utf-8")
    index_dir = tmp_path / "idx"
    _engine(sources, index_dir).index()
    for version in range(1, 11):  # ten one-file changes, each its own `docqa index`
        (sources / f"d{version % 20}.txt").write_text(_report_text(version % 20, version))
        engine = _engine(sources, index_dir)
        assert engine.index().changed == (f"d{version % 20}.txt",)
        engine.store.close()
    fresh = tmp_path / "fresh"
    _engine(sources, fresh).index()
    assert _segment_folders(index_dir) == _segment_folders(fresh)
    # The Chroma folder only: the model's export beside it is the same size in both.
    assert _folder_size(index_dir / "chroma") <= 1.2 * _folder_size(fresh / "chroma")


def test_files_whose_size_and_mtime_hold_are_not_read_again(
    source_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.documents

    index_dir = tmp_path / "idx"
    article = source_dir / ARTICLE_ID
    (source_dir / "other.txt").write_text("Tom bought apples on Monday.", encoding="utf-8")
    long_ago = time.time() - 60
    for path in (article, source_dir / "other.txt"):
        os.utime(path, (long_ago, long_ago))
    _engine(source_dir, index_dir).index()
    read: list[str] = []
    real_extract = rag.documents.extract

    def extract(path: Path, *rest: object):
        read.append(path.name)
        return real_extract(path, *rest)

    monkeypatch.setattr(rag.documents, "extract", extract)
    engine = _engine(source_dir, index_dir)
    assert engine.index().embedded == 0 and read == []
    assert "two" in engine.answer(QUESTION).text

    # Same size, new mtime: read again, and its new text indexed.
    (source_dir / "other.txt").write_text("Tom bought grapes on Monday.", encoding="utf-8")
    report = _engine(source_dir, index_dir).index()
    assert read == ["other.txt"] and report.changed == ("other.txt",)
    # Written a moment ago: its stamp could miss a write in the same clock tick, so it is
    # read every time until it is older.
    assert _engine(source_dir, index_dir).index().embedded == 0
    assert read == ["other.txt", "other.txt"]

    # Touched, not changed: read once more, found as indexed, and its new stamp recorded.
    os.utime(article, (long_ago + 1, long_ago + 1))
    assert _engine(source_dir, index_dir).index().embedded == 0
    assert read.count(ARTICLE_ID) == 1
    assert _engine(source_dir, index_dir).index().embedded == 0
    assert read.count(ARTICLE_ID) == 1
