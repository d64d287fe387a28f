"""A serving process over a built, unchanged index, measured whole: it imports only what
answering needs, then `DocQA.index()` and `warm_up()` (ready to answer), then answers every
eval question once. Its spawner records the spawn time; this writes wall-clock times.

python -m bench.serve --source DIR --index DIR --out result.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bench.measure import ROOT, peak_rss_mb
from rag.chain import DocQA
from rag.settings import Settings

QUESTIONS = ROOT / "evals" / "questions.toml"


@dataclass(frozen=True)
class Question:
    """One eval question and the conversation before it."""

    text: str
    history: list[str]


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The eval questions with their history, in file order."""
    with path.open("rb") as handle:
        table = tomllib.load(handle)
    return [Question(q["question"], list(q.get("history", []))) for q in table["question"]]


def engine_for(source_dir: Path, index_dir: Path) -> DocQA:
    """A DocQA over `source_dir` indexed at `index_dir`, ignoring any DOCQA_* variables."""
    return DocQA(
        Settings.from_env(
            {}, source_dir=source_dir, index_dir=index_dir, upload_dir=index_dir / "no-uploads"
        )
    )


def serve(source_dir: Path, index_dir: Path) -> dict:
    """Wall-clock times (time.time()) of the imports done, of ready and of the first answer,
    the unchanged refresh's seconds, and peak RSS at each of those and after every question."""
    imported_at, imported_rss_mb = time.time(), peak_rss_mb()
    engine = engine_for(source_dir, index_dir)
    began = time.perf_counter()
    report = engine.index(verify=False)  # as a serving process starts: see DocQA.corpus
    index_s = time.perf_counter() - began
    indexed_rss_mb = peak_rss_mb()
    engine.warm_up()
    ready_at, ready_rss_mb = time.time(), peak_rss_mb()
    questions = load_questions()
    first, rest = questions[0], questions[1:]
    engine.answer(first.text, first.history)
    first_answer_at = time.time()
    first_answer_rss_mb = peak_rss_mb()
    for question in rest:
        engine.answer(question.text, question.history)
    return {
        "documents": report.documents,
        "embedded": report.embedded,
        "imported_at": imported_at,
        "imported_rss_mb": imported_rss_mb,
        "index_s": index_s,
        "indexed_rss_mb": indexed_rss_mb,
        "ready_at": ready_at,
        "ready_rss_mb": ready_rss_mb,
        "first_answer_at": first_answer_at,
        "first_answer_rss_mb": first_answer_rss_mb,
        "questions": len(questions),
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    """Serve, and write the result as JSON to --out."""
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = serve(args.source, args.index)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
