"""Where a run reads its document and keeps its index, set as DOCQA_* variables for rag.

The question file's `document` is looked up in the current source folder (DOCQA_SOURCE_DIR,
default seeds/) first; when it is not there, next to the question file, then in seeds/.
When the run moves to another source folder it also gets a temporary index folder (unless
one is given), so the main index is never rebuilt for another corpus.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evals.dataset import DatasetError, QuestionSet
from rag import Settings

DEFAULT_SOURCE_DIR = Settings().source_dir  # seeds/, where the project's articles live


@dataclass(frozen=True)
class Corpus:
    """The source folder a run answers from and the document's path and id inside it."""

    source_dir: Path
    document: Path
    doc_id: str  # the id rag gives the document: its path relative to source_dir
    moved: bool  # True when source_dir is not the one the settings named


def locate(question_set: QuestionSet, current_source_dir: Path) -> Corpus:
    """Find the question file's document; raises DatasetError when it is nowhere."""
    name = question_set.document
    folders = [current_source_dir, question_set.path.resolve().parent, DEFAULT_SOURCE_DIR]
    for folder in folders:
        if (folder / name).is_file():
            moved = folder.resolve() != current_source_dir.resolve()
            return Corpus(folder, folder / name, Path(name).as_posix(), moved)
    looked = ", ".join(str(folder) for folder in dict.fromkeys(folders))
    raise DatasetError(
        f"the document {name!r} of {question_set.path} is in none of {looked}: put it next "
        "to the question file or point DOCQA_SOURCE_DIR at its folder"
    )


@contextmanager
def environment(values: Mapping[str, str | int | Path | None]) -> Iterator[None]:
    """Set the given DOCQA_* variables (None leaves one alone) and restore them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is not None:
                os.environ[name] = str(value)
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@contextmanager
def run_environment(
    question_set: QuestionSet,
    top_k: int | None = None,
    chunk_sentences: int | None = None,
    chunk_overlap: int | None = None,
    index_dir: Path | None = None,
) -> Iterator[tuple[Corpus, Settings]]:
    """Apply the run's settings as DOCQA_* variables; yields the corpus and the settings rag sees.

    Raises SettingsError (from rag) for an invalid combination, before any question is asked.
    """
    tuning = {
        "DOCQA_TOP_K": top_k,
        "DOCQA_CHUNK_SENTENCES": chunk_sentences,
        "DOCQA_CHUNK_OVERLAP": chunk_overlap,
        "DOCQA_INDEX_DIR": index_dir,
    }
    with environment(tuning):
        corpus = locate(question_set, Settings.from_env().source_dir)
        with tempfile.TemporaryDirectory(
            prefix="docqa-eval-index-", ignore_cleanup_errors=True
        ) as scratch:
            moves = {"DOCQA_SOURCE_DIR": corpus.source_dir if corpus.moved else None}
            if corpus.moved and index_dir is None:
                moves["DOCQA_INDEX_DIR"] = scratch
            with environment(moves):
                yield corpus, Settings.from_env()
