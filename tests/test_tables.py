"""The serving tables (rag.tables) as the store keeps them: written once, read into memory,
checked against the rows they index; damage found on open is derived again from the index,
a file truncated under a serving process never kills it, and the pointer's `build` field is
data, never a path."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.chain import DocQA
from rag.errors import DamagedTables, OutdatedTables
from rag.settings import Settings
from rag.tables import BUILD_ID, Tables
from tests.conftest import ROOT, SEEDS, run_docqa

QUESTION = "When does the ferry leave?"
FERRY = "The ferry leaves at noon from pier four.\n\nTom bought pears on Monday. He ate them.\n"


def _settings(source: Path, index: Path) -> Settings:
    return Settings.from_env({}, source_dir=source, index_dir=index)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Sources (the seed article and a short file) and an index built over them, once."""
    root = tmp_path_factory.mktemp("tables-template")
    source = root / "sources"
    shutil.copytree(SEEDS, source)
    (source / "ferry.txt").write_text(FERRY, encoding="utf-8")
    engine = DocQA(_settings(source, root / "index"))
    engine.index()
    engine.store.close()
    return source, root / "index"


@pytest.fixture
def built(template: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the template's sources and index, this test's to damage; the index lies four
    folders deep, so a path that climbs out of it still lands inside tmp_path."""
    source, index = tmp_path / "sources", tmp_path / "a" / "b" / "c" / "index"
    shutil.copytree(template[0], source)
    shutil.copytree(template[1], index)
    return source, index


def _folder(index: Path) -> Path:
    (folder,) = (index / "serving").iterdir()
    return folder


def _counts(index: Path, source: Path) -> dict[str, int]:
    engine = DocQA(_settings(source, index))
    try:
        live = engine.store.generations.read_pointer()
        assert live is not None
        return live.counts
    finally:
        engine.store.close()


def _answers(engine: DocQA) -> None:
    answer = engine.answer(QUESTION)
    assert not answer.abstained and "noon" in answer.text


# -- damage that looks well formed -------------------------------------------------------


def _array(name: str, change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = folder / f"{name}.npy"
        np.save(path, change(np.load(path).copy()), allow_pickle=False)

    return damage


def _meta(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = folder / "tables.json"
        path.write_text(json.dumps(change(json.loads(path.read_text()))), encoding="utf-8")

    return damage


def _truncate(relative: str, keep: float = 0.0) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path = folder / relative
        os.truncate(path, int(path.stat().st_size * keep))

    return damage


def _set(array: np.ndarray, at: int, value: object) -> np.ndarray:
    array[at] = value
    return array


def _bm25_vocabulary(folder: Path) -> None:
    path = folder / "sentence_bm25" / "vocab.index.json"
    vocabulary = json.loads(path.read_text())
    path.write_text(json.dumps({term: 10**6 for term in vocabulary}), encoding="utf-8")


DAMAGE = {
    # the issue's cases
    "sentence_start truncated to 0 bytes": _truncate("sentence_start.npy"),
    "tables.json a list": _meta(lambda meta: list(meta)),
    "tables.json without doc_ids": _meta(
        lambda meta: {k: v for k, v in meta.items() if k != "doc_ids"}
    ),
    "zeros in sentence_start": _array("sentence_start", np.zeros_like),
    "chunk_members out of range": _array("chunk_members", lambda a: a + 10_000),
    # more of the same kind
    "sentence_end cut half way": _truncate("sentence_end.npy", 0.6),
    "sentence_end one row short": _array("sentence_end", lambda a: a[:-1]),
    "sentence_start past its document": _array("sentence_start", lambda a: _set(a, -1, 10**9)),
    "sentence_doc past the documents": _array("sentence_doc", lambda a: _set(a, -1, 99)),
    "sentences out of order": _array("sentence_start", lambda a: a[::-1].copy()),
    "chunk_ptr not monotone": _array("chunk_ptr", lambda a: _set(a, 1, a[-1])),
    "clause_ptr past the clauses": _array("clause_ptr", lambda a: _set(a, -1, a[-1] + 5)),
    "section after its sentence": _array("section", lambda a: _set(a, 0, len(a) - 1)),
    "chunk_start shifted": _array("chunk_start", lambda a: a + 1),
    "chunk_members of another document": _array("chunk_members", lambda a: a[::-1].copy()),
    "sentence_doc of floats": _array("sentence_doc", lambda a: a.astype(np.float64)),
    "bm25 indices out of range": (
        lambda folder: _array("sentence_bm25/indices.csc.index", lambda a: a + 10_000)(folder)
    ),
    "bm25 indptr truncated": _truncate("chunk_bm25/indptr.csc.index.npy", 0.5),
    "bm25 vocabulary past its terms": _bm25_vocabulary,
    "term_idf of strings": _meta(lambda meta: {**meta, "term_idf": {"noon": "x"}}),
    "doc_ids out of order": _meta(lambda meta: {**meta, "doc_ids": meta["doc_ids"][::-1]}),
}
ISSUE = list(DAMAGE)[:5]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_tables_are_derived_again_on_open(
    built: tuple[Path, Path], damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    source, index = built
    folder = _folder(index)
    DAMAGE[damage](folder)
    counts = _counts(index, source)
    with pytest.raises(DamagedTables):
        Tables.load(folder, counts)

    engine = DocQA(_settings(source, index))
    with caplog.at_level(logging.WARNING, logger="rag.store"):
        _answers(engine)
    assert "serving tables" in caplog.text and "were damaged" in caplog.text
    assert _folder(index) == folder  # repaired where it was, and it passes its check now
    Tables.load(folder, counts)
    engine.store.close()


def test_tables_of_another_version_are_derived_again_without_a_warning(
    built: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    source, index = built
    folder = _folder(index)
    _meta(lambda meta: {**meta, "format": "docqa-tables-2"})(folder)
    counts = _counts(index, source)
    with pytest.raises(OutdatedTables, match="docqa-tables-2"):
        Tables.load(folder, counts)

    engine = DocQA(_settings(source, index))
    with caplog.at_level(logging.INFO, logger="rag.store"):
        _answers(engine)
    assert "written by another version of docqa" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    Tables.load(folder, counts)
    engine.store.close()


@pytest.mark.parametrize("damage", ISSUE)
def test_docqa_index_rebuilds_a_serving_table_that_fails_its_check(
    built: tuple[Path, Path], damage: str
) -> None:
    source, index = built
    folder = _folder(index)
    DAMAGE[damage](folder)
    report = DocQA(_settings(source, index)).index()
    assert report.embedded == 0  # the index itself was sound: only the table is derived
    Tables.load(folder, _counts(index, source))
    _answers(DocQA(_settings(source, index)))


def test_docqa_ask_on_a_damaged_table_answers_with_one_line(built: tuple[Path, Path]) -> None:
    source, index = built
    DAMAGE["zeros in sentence_start"](_folder(index))
    env = {**os.environ, "DOCQA_INDEX_DIR": str(index), "DOCQA_SOURCE_DIR": str(source)}
    done = run_docqa("ask", QUESTION, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "noon" in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "were damaged" in lines[0] and "Traceback" not in done.stderr


# -- a table truncated under a serving process ------------------------------------------

_SERVE_THEN_TRUNCATE = """
import os, sys
from pathlib import Path
from rag.chain import DocQA
from rag.settings import Settings

source, index = Path(sys.argv[1]), Path(sys.argv[2])
engine = DocQA(Settings.from_env({}, source_dir=source, index_dir=index))
print("first:", engine.answer(sys.argv[3]).text.replace(chr(10), " "), flush=True)
for path in (index / "serving").rglob("*"):
    if path.is_file():
        os.truncate(path, 0)
print("second:", engine.answer(sys.argv[3]).text.replace(chr(10), " "), flush=True)
"""


def test_a_table_truncated_under_a_serving_process_never_kills_it(
    built: tuple[Path, Path],
) -> None:
    source, index = built
    done = subprocess.run(
        [sys.executable, "-c", _SERVE_THEN_TRUNCATE, str(source), str(index), QUESTION],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    first, second = done.stdout.strip().splitlines()[-2:]
    assert "noon" in first and "noon" in second


def test_a_generations_files_are_written_once_and_never_changed(
    built: tuple[Path, Path],
) -> None:
    source, index = built
    folder = _folder(index)

    def files() -> dict[str, tuple[int, int, int]]:
        return {
            str(path.relative_to(folder)): (
                path.stat().st_ino,
                path.stat().st_mtime_ns,
                path.stat().st_size,
            )
            for path in folder.rglob("*")
            if path.is_file()
        }

    before = files()
    engine = DocQA(_settings(source, index))
    _answers(engine)
    assert engine.index().generation == 1
    assert files() == before

    (source / "ferry.txt").write_text(FERRY.replace("noon", "nine"), encoding="utf-8")
    report = engine.index()
    assert report.generation == 2
    (new,) = (index / "serving").iterdir()
    assert new != folder and not folder.exists()  # a new generation gets a new folder
    assert "nine" in engine.answer(QUESTION).text


# -- the pointer's build field ----------------------------------------------------------


def _point_build(source: Path, index: Path, build: str) -> None:
    engine = DocQA(_settings(source, index))
    pointer = engine.store.connection.client().get_collection(engine.store.connection.pointer_name)
    pointer.modify(metadata={**(pointer.metadata or {}), "build": build})
    engine.store.close()


@pytest.mark.parametrize("build", ["x/../../../../../outside", "../../outside", "/tmp", "A" * 32])
def test_a_build_id_that_is_not_one_is_damage_never_a_path(
    built: tuple[Path, Path], tmp_path: Path, build: str, caplog: pytest.LogCaptureFixture
) -> None:
    source, index = built
    _point_build(source, index, build)
    outside_before = sorted(p for p in tmp_path.rglob("*") if index not in p.parents)

    engine = DocQA(_settings(source, index))
    with caplog.at_level(logging.WARNING, logger="rag.store"):
        _answers(engine)
    assert "not a build id" in caplog.text
    outside_after = sorted(p for p in tmp_path.rglob("*") if index not in p.parents)
    assert outside_after == outside_before  # nothing was written outside the index
    live = engine.store.generations.read_pointer()
    assert live is not None and BUILD_ID.fullmatch(live.build)  # rebuilt with a real one
    assert [p.name for p in (index / "serving").iterdir()] == [f"docqa-{live.build}"]
    engine.store.close()


def test_a_tables_folder_is_only_ever_a_build_ids(built: tuple[Path, Path]) -> None:
    source, index = built
    store = DocQA(_settings(source, index)).store
    for build in ("", "..", "x/../../y", "0" * 31, "0" * 32 + "/x", "0" * 33):
        with pytest.raises(ValueError, match="not a build id"):
            store.generations.tables_folder(build)
    assert store.generations.tables_folder("0" * 32).parent == index / "serving"


def test_pruning_keeps_the_tables_of_a_collection_named_alike(built: tuple[Path, Path]) -> None:
    source, index = built
    other = index / "serving" / f"docqa-2-{'0' * 32}"
    shutil.copytree(_folder(index), other)
    (source / "ferry.txt").write_text(FERRY + "A new line.\n", encoding="utf-8")
    DocQA(_settings(source, index)).index()  # a new generation prunes docqa's old tables
    assert other.exists()
