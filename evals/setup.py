"""Where a run reads its documents and keeps its index: the Settings of the DocQA it holds.

A question file with a `source` folder is asked of that folder. Otherwise its documents are
looked up in the current source folder (DOCQA_SOURCE_DIR, default seeds/) first; when they
are not all there, next to the question file, then in seeds/. When the run moves to another
source folder it also gets a temporary index folder (unless one is given), so the main
index is never rebuilt for another corpus.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evals.dataset import QuestionSet
from rag import Settings
from rag.errors import DatasetError

DEFAULT_SOURCE_DIR = Settings().source_dir  # seeds/, where the project's articles live


@dataclass(frozen=True)
class Corpus:
    """The source folder a run answers from and the ids of the questions' documents in it."""

    source_dir: Path
    doc_ids: tuple[str, ...]  # the ids rag gives the documents: paths relative to source_dir
    moved: bool  # True when source_dir is not the one the settings named


def locate(question_set: QuestionSet, current_source_dir: Path) -> Corpus:
    """Find the question file's documents; raises DatasetError when no folder holds them all."""
    names = question_set.documents
    if question_set.source is not None:
        folders = [question_set.source]
    else:
        folders = [current_source_dir, question_set.path.resolve().parent, DEFAULT_SOURCE_DIR]
    for folder in folders:
        if all((folder / name).is_file() for name in names):
            moved = folder.resolve() != current_source_dir.resolve()
            return Corpus(folder, tuple(Path(name).as_posix() for name in names), moved)
    looked = ", ".join(str(folder) for folder in dict.fromkeys(folders))
    shown = ", ".join(repr(name) for name in names)
    raise DatasetError(
        f"the documents {shown} of {question_set.path} are not all in any of {looked}: put "
        "them next to the question file (or in its `source` folder) or point "
        "DOCQA_SOURCE_DIR at their folder"
    )


@contextmanager
def run_settings(
    question_set: QuestionSet,
    top_k: int | None = None,
    chunk_sentences: int | None = None,
    chunk_overlap: int | None = None,
    index_dir: Path | None = None,
) -> Iterator[tuple[Corpus, Settings]]:
    """The run's corpus and the settings of the DocQA it asks: the DOCQA_* settings with the
    run's own on top. The process environment is never changed.

    Raises SettingsError (from rag) for an invalid combination, before any question is asked.
    """
    tuning = {
        "top_k": top_k,
        "chunk_sentences": chunk_sentences,
        "chunk_overlap": chunk_overlap,
        "index_dir": index_dir,
    }
    corpus = locate(question_set, Settings.from_env(**tuning).source_dir)
    with tempfile.TemporaryDirectory(
        prefix="docqa-eval-index-", ignore_cleanup_errors=True
    ) as scratch:
        moves: dict[str, object] = {
            "source_dir": corpus.source_dir if corpus.moved else None,
            # The questions are about the set's documents: the user's uploads stay out.
            "upload_dir": Path(scratch) / "no-uploads",
        }
        if corpus.moved and index_dir is None:
            moves["index_dir"] = scratch
        yield corpus, Settings.from_env(**{**tuning, **{k: v for k, v in moves.items() if v}})
