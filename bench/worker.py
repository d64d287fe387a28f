"""The measured jobs, each run in a process of its own so its peak memory is its own.

python -m bench.worker latency --source DIR --index DIR --out result.json --rounds 3
python -m bench.worker index --source DIR --index DIR --out result.json [--raw] [--reindex]
    [--progress]
python -m bench.worker raw --source DIR --index DIR --out result.json --most 3000 --part 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.measure import p50, p95, peak_rss_mb
from bench.serve import Question, engine_for, load_questions
from rag.chain import DocQA
from rag.chunking import chunk_document
from rag.documents import load_sources
from rag.features import answer_features, phrase_features, sentence_features
from rag.reader import judge
from rag.retrieval import CANDIDATE_FACTOR
from rag.settings import Settings

T = TypeVar("T")


def latency(source_dir: Path, index_dir: Path, rounds: int, most: int = 0) -> dict:
    """Warm `DocQA.answer()` latency against a floor: one query embedding, one Chroma query
    and the reader's three models scoring the same candidates docqa reads (their features
    made beforehand, untimed), the least any learned reader of these candidates must do.
    Over `most` of the eval questions, evenly spread (all for 0)."""
    engine = engine_for(source_dir, index_dir)
    start = time.perf_counter()
    report = engine.index()
    engine.warm_up()
    load_s = time.perf_counter() - start
    questions = spread(load_questions(), most)
    vectorstore = engine.store.vectorstore()
    depth = min(engine.corpus.tables.chunk_count, engine.settings.top_k * CANDIDATE_FACTOR)

    def docqa(question: Question) -> None:
        engine.answer(question.text, question.history)

    model = engine.model
    rows = {question.text: _model_inputs(engine, question) for question in questions}

    def floor(question: Question) -> None:
        vector = engine.embeddings.embed_query(question.text)
        vectorstore.similarity_search_by_vector_with_relevance_scores(vector, k=depth)
        for sentence_rows, phrase_rows, answer_rows in rows[question.text]:
            model.sentence.predict(sentence_rows)
            model.phrase.predict(phrase_rows)
            model.answerable.predict(answer_rows)

    for question in questions:  # one untimed pass: caches, allocator, lazy imports
        docqa(question)
        floor(question)
    per_round = [_round(questions, docqa, floor, number) for number in range(rounds)]
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "questions": len(questions),
        "rounds": rounds,
        "k": depth,
        "load_s": load_s,
        "docqa_p50_ms": p50([r["docqa_p50_ms"] for r in per_round]),
        "docqa_p95_ms": p50([r["docqa_p95_ms"] for r in per_round]),
        "floor_p50_ms": p50([r["floor_p50_ms"] for r in per_round]),
        "floor_p95_ms": p50([r["floor_p95_ms"] for r in per_round]),
        "per_round": per_round,
        "peak_rss_mb": peak_rss_mb(),
    }


def _model_inputs(engine: DocQA, question: Question) -> list[tuple]:
    """The feature rows docqa's reader scores for `question`, one triple per question part."""
    inputs = []
    for retrieval in engine.retrieve(question.text, question.history):
        if not retrieval.candidates:
            continue
        judged = judge(retrieval, engine.model)
        prior = engine.model.prior
        sentence_rows = sentence_features(retrieval.query, retrieval.candidates, prior)
        chosen = retrieval.candidates[judged.best]
        phrase_rows = phrase_features(retrieval.query, chosen, prior)
        answer_rows = answer_features(sentence_rows, judged.scores)
        inputs.append((sentence_rows, phrase_rows, answer_rows))
    return inputs


def _round(
    questions: list[Question],
    docqa: Callable[[Question], None],
    floor: Callable[[Question], None],
    number: int,
) -> dict:
    """Time every question once each way, alternating which goes first."""
    timings: dict[str, list[float]] = {"docqa": [], "floor": []}
    for position, question in enumerate(questions):
        pair = [("docqa", docqa), ("floor", floor)]
        if (position + number) % 2:
            pair.reverse()
        for name, run in pair:
            start = time.perf_counter()
            run(question)
            timings[name].append((time.perf_counter() - start) * 1000)
    return {
        f"{name}_{stat}_ms": fn(values)
        for name, values in timings.items()
        for stat, fn in (("p50", p50), ("p95", p95))
    }


def index(
    source_dir: Path, index_dir: Path, raw: bool, reindex: bool, progress: bool = False
) -> dict:
    """Full build throughput, optionally raw encode of the same chunks and an unchanged rebuild.

    Raw encode runs half before the build and half after, so a burst of load from other
    processes weighs on both figures alike. With `progress`, the build's progress bar shows.
    """
    engine = engine_for(source_dir, index_dir)
    engine.embeddings.embed_query("warm up")  # the model loads outside every timing
    texts = _chunk_texts(engine.settings) if raw else []
    result: dict = {"batch_size": engine.embeddings.batch_size}
    before = _encode_seconds(engine, texts[0::2])
    start = time.perf_counter()
    report = engine.index(progress=progress)
    result.update(
        documents=report.documents,
        chunks=report.chunks,
        sentences=report.sentences,
        embedded=report.embedded,
        build_s=time.perf_counter() - start,
        build_peak_rss_mb=peak_rss_mb(),
    )
    after = _encode_seconds(engine, texts[1::2])
    if raw:
        result.update(raw_chunks=len(texts), raw_s=before + after, raw_halves_s=[before, after])
    if reindex:
        engine.store.close()  # the next engine opens the index from disk, as a new run would
        del engine
        again = engine_for(source_dir, index_dir)
        start = time.perf_counter()
        second = again.index()
        result.update(reindex_s=time.perf_counter() - start, reindex_embedded=second.embedded)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def raw(source_dir: Path, index_dir: Path, most: int, part: int, progress: bool = False) -> dict:
    """Raw encode alone, in a process of its own so a build's peak RSS stays docqa's: of at
    most `most` of the chunks docqa would index, evenly spread (0: all), every other one
    from `part` (0 or 1), so two runs, one each side of a build, share the load between them.
    """
    engine = engine_for(source_dir, index_dir)
    engine.embeddings.embed_query("warm up")  # the model loads outside the timing
    texts = _chunk_texts(engine.settings)
    chosen = spread(texts, most)[part::2]
    return {
        "all_chunks": len(texts),
        "raw_chunks": len(chosen),
        "raw_s": _encode_seconds(engine, chosen, progress),
        "peak_rss_mb": peak_rss_mb(),
    }


def _chunk_texts(settings: Settings) -> list[str]:
    """The texts of the chunks docqa would index from the source folder."""
    return [
        chunk.text
        for document in load_sources(settings.source_dir).documents
        for chunk in chunk_document(document, settings.chunk_sentences, settings.chunk_overlap)
    ]


def spread(items: list[T], most: int) -> list[T]:
    """At most `most` of `items`, evenly spread over them in order (all of them for 0).

    spread(["a", "b", "c", "d"], 2) -> ["a", "c"]
    """
    if not most or len(items) <= most:
        return items
    return [items[at * len(items) // most] for at in range(most)]


def _encode_seconds(engine: DocQA, texts: list[str], progress: bool = False) -> float:
    """Seconds the embedding model alone takes over `texts`, at docqa's batch size."""
    if not texts:
        return 0.0
    start = time.perf_counter()
    engine.embeddings.encode(texts, progress=progress)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run one job and write its result as JSON to --out."""
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("job", choices=["latency", "index", "raw"])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--questions", type=int, default=0, help="latency: at most this many")
    parser.add_argument("--raw", action="store_true", help="also time raw encode of the chunks")
    parser.add_argument("--reindex", action="store_true", help="also time an unchanged rebuild")
    parser.add_argument(
        "--most", type=int, default=0, help="raw: encode at most this many chunks (0: all)"
    )
    parser.add_argument("--part", type=int, choices=[0, 1], default=0, help="raw: which half")
    parser.add_argument("--progress", action="store_true", help="progress bars on stderr")
    args = parser.parse_args(argv)
    if args.job == "latency":
        result = latency(args.source, args.index, args.rounds, args.questions)
    elif args.job == "raw":
        result = raw(args.source, args.index, args.most, args.part, args.progress)
    else:
        result = index(args.source, args.index, args.raw, args.reindex, args.progress)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
