"""The benchmark's sections; each runs its measured work in child processes under `workdir`."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from bench import cold
from bench.corpus import write_corpus
from bench.documents import format_counts, write_documents
from bench.growth import growth as fit_growth
from bench.measure import ROOT, checked, child_env, run_process

SEEDS = ROOT / "seeds"
# Raw encode of this many of the many-docs chunks, evenly spread, gives the floor's rate:
# encoding every chunk of 10,000 documents would take nearly as long as docqa's whole build.
MANY_DOCS_RAW_CHUNKS = 3000


def warm_latency(workdir: Path, rounds: int, questions: int = 0) -> dict:
    """Warm question latency over the seed article, against embed + Chroma query (over at
    most `questions` of the eval questions, evenly spread; all for 0)."""
    result = _worker("latency", workdir / "latency", SEEDS, rounds=rounds, questions=questions)
    return _with_ratios(result)


def cold_start(workdir: Path, repeats: int, with_ui: bool) -> dict:
    """Whole-process start-up of `docqa ask` and of `python ui.py`, each against its floor."""
    cli = cold.cli(workdir, repeats)
    ui = cold.ui(workdir, repeats) if with_ui else {"skipped": "--no-ui given"}
    floor = cold.model_floor(workdir / "seed-index")
    profile = cold.import_profile(workdir)
    return {"cli": cli, "ui": ui, "model_floor_peak_rss_mb": floor.peak_rss_mb, "imports": profile}


def indexing(workdir: Path, sizes: list[int]) -> dict:
    """Chunks per second of a full build against raw encode; an unchanged rebuild's share."""
    runs = []
    for docs in sizes:
        _progress(f"indexing {docs} documents")
        folder = workdir / f"indexing-{docs}"
        source = write_corpus(folder / "sources", docs)
        result = _worker("index", folder, source, raw=True, reindex=True)
        env = child_env(DOCQA_SOURCE_DIR=str(source), DOCQA_INDEX_DIR=str(folder / "index"))
        process = checked(run_process([*cold.docqa_command(), "index"], env), "docqa index")
        result.update(
            chunks_per_s=result["chunks"] / result["build_s"],
            raw_chunks_per_s=result["raw_chunks"] / result["raw_s"],
            reindex_share=result["reindex_s"] / result["build_s"],
            reindex_process_s=process.seconds,
            reindex_process_share=process.seconds / result["build_s"],
        )
        result["ratio"] = result["chunks_per_s"] / result["raw_chunks_per_s"]
        runs.append(result)
    return {"runs": runs}


def scale(workdir: Path, scales: list[int], rounds: int, questions: int = 0) -> dict:
    """Warm latency over corpora of 1, 100, 1000 ... shuffled copies of the article."""
    runs = []
    for copies in scales:
        _progress(f"scale {copies}x: building")
        folder = workdir / f"scale-{copies}"
        source = write_corpus(folder / "sources", copies)
        build = _worker("index", folder, source)
        _progress(f"scale {copies}x: questions")
        timed = _worker("latency", folder, source, rounds=rounds, questions=questions)
        serve = _with_ratios(timed)
        serve.update(
            scale=copies,
            build_s=build["build_s"],
            build_peak_rss_mb=build["peak_rss_mb"],
            serve_peak_rss_mb=serve.pop("peak_rss_mb"),
        )
        runs.append(serve)
    base = runs[0]["docqa_p50_ms"] if runs else 0.0
    for run in runs:
        run["growth_vs_first"] = run["docqa_p50_ms"] / base if base else 0.0
    return {"runs": runs}


def many_docs(workdir: Path, docs: int, rounds: int, raw: bool = True, questions: int = 0) -> dict:
    """`docs` generated documents of every format, indexed with progress bars: the build
    (chunks/s against raw encode when `raw`, its peak RSS, an unchanged re-index's share of
    it), then a serving process over the built index (seconds from spawn to ready to answer,
    its peak RSS against a process holding only the model), and warm answer latency over the
    whole index against its floor (as in warm_latency).

    Raw encode runs in processes of its own, half before the build and half after, so a
    burst of load from other processes weighs on both alike.
    """
    folder = workdir / f"many-docs-{docs}"
    source = folder / "sources"
    _progress(f"many docs: writing {docs:,} documents")
    began = time.perf_counter()
    written = write_documents(source, docs, progress=True)
    generate_s = time.perf_counter() - began

    def raw_half(part: int) -> dict:
        _progress(f"many docs: raw encode of chunks, half {part + 1} of 2 (the floor)")
        options = {"most": MANY_DOCS_RAW_CHUNKS, "part": str(part), "progress": True}
        return _worker("raw", folder, source, echo=True, out=f"raw-{part}", **options)

    raw_runs = [raw_half(0)] if raw else []
    _progress(f"many docs: indexing {docs:,} documents, then again unchanged")
    build = _worker("index", folder, source, progress=True, echo=True, reindex=True)
    if raw:
        raw_runs.append(raw_half(1))
    _progress("many docs: a process holding only the model (the memory floor)")
    floor_rss_mb = cold.model_floor(folder / "index").peak_rss_mb
    _progress(f"many docs: a serving process over {build['chunks']:,} chunks")
    serving = _serve(folder, source)
    _progress(f"many docs: questions over {build['chunks']:,} chunks")
    timed = _worker("latency", folder, source, rounds=rounds, questions=questions)
    latency = _with_ratios(timed)
    result = {
        "documents": build["documents"],
        "formats": format_counts(written),
        "bytes": sum(document.path.stat().st_size for document in written),
        "generate_s": generate_s,
        "chunks": build["chunks"],
        "sentences": build["sentences"],
        "build_s": build["build_s"],
        "chunks_per_s": build["chunks"] / build["build_s"],
        "build_peak_rss_mb": build["build_peak_rss_mb"],
        "reindex_s": build["reindex_s"],
        "reindex_embedded": build["reindex_embedded"],
        "reindex_share": build["reindex_s"] / build["build_s"],
        "floor_peak_rss_mb": floor_rss_mb,
        **serving,
        "latency_peak_rss_mb": latency["process_peak_rss_mb"],
        "load_s": latency["load_s"],
        **{key: latency[key] for key in ("questions", "rounds", "k", "per_round")},
        **{key: latency[key] for key in latency if key.endswith("_ms") or key.startswith("ratio_")},
    }
    result["rss_ratio"] = result["serve_peak_rss_mb"] / floor_rss_mb
    result["build_rss_ratio"] = result["build_peak_rss_mb"] / floor_rss_mb
    if raw_runs:
        result.update(
            raw_chunks=sum(run["raw_chunks"] for run in raw_runs),
            raw_s=sum(run["raw_s"] for run in raw_runs),
            raw_halves_s=[run["raw_s"] for run in raw_runs],
            raw_peak_rss_mb=max(run["process_peak_rss_mb"] for run in raw_runs),
        )
        result["raw_chunks_per_s"] = result["raw_chunks"] / result["raw_s"]
        result["ratio"] = result["chunks_per_s"] / result["raw_chunks_per_s"]
    return result


def growth(workdir: Path, sizes: list[int], rounds: int, questions: int = 0) -> dict:
    """The many-documents measurements (without raw encode) at each of `sizes`, and how each
    figure grows: fits and projections (bench.growth)."""
    runs = []
    for docs in sorted(sizes):
        began = time.perf_counter()
        run = many_docs(workdir / "growth", docs, rounds, raw=False, questions=questions)
        run["seconds"] = time.perf_counter() - began
        runs.append(run)
        # Kept beside the index (with --keep), so a run stopped before its largest size
        # leaves the sizes it finished.
        path = workdir / "growth" / f"many-docs-{docs}" / "run.json"
        path.write_text(json.dumps(run, indent=2), encoding="utf-8")
        _progress(f"growth: {docs:,} documents took {run['seconds']:,.0f} s")
    return {"runs": runs, "figures": fit_growth(runs)}


def _serve(folder: Path, source: Path) -> dict:
    """A serving process (bench.serve) over the index in `folder`: seconds from its spawn to
    ready to answer and to its first answer, and its peak RSS having answered every question."""
    result_path = folder / "serve.json"
    command = [sys.executable, "-m", "bench.serve", "--source", str(source)]
    command += ["--index", str(folder / "index"), "--out", str(result_path)]
    spawned = time.time()
    run = checked(run_process(command, child_env()), "bench.serve")
    served = json.loads(result_path.read_text(encoding="utf-8"))
    return {
        "ready_s": served["ready_at"] - spawned,
        "first_answer_s": served["first_answer_at"] - spawned,
        "serve_import_s": served["imported_at"] - spawned,  # Python start and imports
        "serve_index_s": served["index_s"],
        "serve_embedded": served["embedded"],
        "serve_imported_rss_mb": served["imported_rss_mb"],
        "serve_indexed_rss_mb": served["indexed_rss_mb"],
        "serve_ready_rss_mb": served["ready_rss_mb"],
        "serve_first_answer_rss_mb": served["first_answer_rss_mb"],
        "serve_peak_rss_mb": run.peak_rss_mb,
        "serve_questions": served["questions"],
    }


def _worker(
    job: str, folder: Path, source: Path, echo: bool = False, out: str = "", **options: object
) -> dict:
    """Run one bench.worker job in its own process; its result, with the process's peak RSS.

    With `echo`, the job's stderr (its progress bars) shows as it runs; `out` names its result
    file in `folder` when one job runs there twice.
    """
    folder.mkdir(parents=True, exist_ok=True)
    result_path = folder / f"{out or job}.json"
    command = [
        sys.executable,
        "-m",
        "bench.worker",
        job,
        "--source",
        str(source),
        "--index",
        str(folder / "index"),
        "--out",
        str(result_path),
    ]
    for name, value in options.items():
        if value is True:
            command.append(f"--{name.replace('_', '-')}")
        elif value not in (False, None):
            command += [f"--{name.replace('_', '-')}", str(value)]
    run = checked(run_process(command, child_env(), echo=echo), f"bench.worker {job}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["process_peak_rss_mb"] = run.peak_rss_mb
    return result


def _with_ratios(result: dict) -> dict:
    result["ratio_p50"] = result["docqa_p50_ms"] / result["floor_p50_ms"]
    result["ratio_p95"] = result["docqa_p95_ms"] / result["floor_p95_ms"]
    return result


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def splitting(sizes_mb: list[int]) -> dict:
    """Sentence splitting's time on texts of `sizes_mb` megabytes (copies of the article, one
    per line), each against the smallest's time per megabyte: about 1 when it is linear."""
    from rag.chunking import split_sentences

    article = (SEEDS / "north-korea-missile-tests.txt").read_text(encoding="utf-8") + "\n"
    runs = []
    for megabytes in sizes_mb:
        text = article * (megabytes * 1024 * 1024 // len(article) + 1)
        started = time.perf_counter()
        found = len(split_sentences(text))
        runs.append({"mb": megabytes, "seconds": time.perf_counter() - started, "sentences": found})
    base = runs[0]["seconds"] / runs[0]["mb"]
    for run in runs:
        run["ratio"] = (run["seconds"] / run["mb"]) / base if base else 0.0
    return {"runs": runs}


# The labelled replies whose verification is timed: those over the seed article.
REPLIES = ROOT / "data" / "verifier" / "replies.jsonl"
VERIFIED_SENTENCES = 3  # the target is for a reply of three sentences


def verification(rounds: int) -> dict:
    """How long verifying a reply over the seed article takes (every sentence of each of
    data/verifier/replies.jsonl's replies over it, in turn, as the eval and the UI do), each
    reply with the caches a new question finds cold, against spaCy parsing the same texts
    (what any verification by grammar must do); per three sentences, median over replies and
    `rounds`."""
    from evals.verifier import judge, load

    article = (SEEDS / "north-korea-missile-tests.txt").read_text(encoding="utf-8")
    replies, documents = load(REPLIES)
    ours = [r for r in replies if all(documents[p.doc_id].text == article for p in r.passages)]
    if not ours:
        return {"replies": 0}

    def verify_all(reply) -> None:
        judge([reply], documents)  # each sentence in turn, as the eval and the UI verify

    verify_all(ours[0])  # the models load once, as in a serving process
    docqa, floor = [], []
    for _ in range(rounds):
        for reply in ours:
            texts = [s.text for s in reply.sentences] + _passage_sentences(reply.passages)
            _cold_caches()
            began = time.perf_counter()
            _parse_all(texts)
            floor.append((time.perf_counter() - began) / len(reply.sentences))
            _cold_caches()
            began = time.perf_counter()
            verify_all(reply)
            docqa.append((time.perf_counter() - began) / len(reply.sentences))
    per = VERIFIED_SENTENCES * 1000
    result = {
        "replies": len(ours),
        "sentences": sum(len(r.sentences) for r in ours),
        "rounds": rounds,
        "docqa_ms": per * statistics.median(docqa),
        "floor_ms": per * statistics.median(floor),
    }
    result["ratio"] = result["docqa_ms"] / result["floor_ms"]
    return result


def _passage_sentences(passages) -> list[str]:
    from rag.chunking import split_sentences

    return [p.text[start:end] for p in passages for start, end in split_sentences(p.text)]


def _parse_all(texts: list[str]) -> None:
    from rag import support

    support.parse_all(texts)


def _cold_caches() -> None:
    """Forget what verification remembers of texts it has read (parses, facts, outlines),
    not the models it loaded: what a new question's passages find."""
    from rag import scope, support, verification

    support._PARSED.clear()  # the parse cache; its lock guards threads, and this is one
    for module in (support, verification, scope):
        for function in vars(module).values():
            info = getattr(function, "cache_info", None)
            if info is not None and (info().maxsize or 2) > 1:
                function.cache_clear()
