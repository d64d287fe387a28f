"""`python -m evals` (or `docqa eval`): ask every eval question through `rag.answer()`, score it.

Prints a table per question, the aggregate metrics (overall and per category) and whether
the answers hold up (evals.reliability), and writes a JSON report and a PNG chart to
evals/results/. With `--squad FILE` it runs SQuAD 2.0 files instead, against two
one-sentence baselines (see evals/squad.py); with `--domains`, every domain at once, one row
each and the worst (see evals/domains.py). Exit status: 0 done, 1 below the gate (with
--gate) or an unexpected error, 2 bad input (question file, options, settings), 130
interrupted (rag.edge.guarded).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from evals import domains, gate, readers, reliability, report, runner, setup, squad, tables
from evals.dataset import SPLITS, load_questions
from evals.scoring import Row, aggregate, aggregates, outcome, record
from rag.edge import count, guarded, positive
from rag.errors import DatasetError

QUESTIONS = Path(__file__).resolve().parent / "questions.toml"


def main(argv: list[str] | None = None) -> int:
    """Run the eval suite with command-line `argv`; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--"]:  # `docqa eval -- --split tune` hands the "--" on
        argv = argv[1:]
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # -h, or a bad option argparse has explained: a status, not exit
        return stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 2
    return guarded("evals", lambda: _evaluate(args))


def _evaluate(args: argparse.Namespace) -> int:
    _check_mode(args)
    if args.verifier is not None:
        from evals import verifier

        return verifier.run(args.verifier, args.verifier_sentences)
    if args.domains:
        return _evaluate_domains(args)
    if args.squad is not None:
        return _evaluate_squad(args)
    question_set = load_questions(args.questions)
    chosen = question_set.select(args.category or (), args.id or (), args.split or "all")
    if args.limit is not None:
        chosen = list(squad.spread(chosen, args.limit))
    old = report.load_json(args.compare) if args.compare else None
    thresholds = gate.load_thresholds(args.thresholds) if args.gate else None
    started = report.now()
    clock = time.perf_counter()
    with setup.run_settings(
        question_set, args.top_k, args.chunk_sentences, args.chunk_overlap, args.index_dir
    ) as (corpus, run_settings):
        compared = readers.reader_settings(run_settings, args.reader)
        reader, settings = compared[-1]  # the reader asked for; the extractive one before it
        if not args.quiet:
            print(
                f"docqa eval: {len(chosen)} questions from {report.shown(question_set.path)} about "
                f"{', '.join(corpus.doc_ids)} (source {report.shown(corpus.source_dir)}, index "
                f"{report.shown(settings.index_dir)}, top_k={settings.top_k}, "
                f"chunk_sentences={settings.chunk_sentences}, "
                f"chunk_overlap={settings.chunk_overlap}, reader {args.reader}"
                + (f" ({settings.llm}) beside the extractive one" if settings.llm else "")
                + ")",
                flush=True,
            )
        progress = _progress if not args.quiet and sys.stderr.isatty() else None
        from rag.chain import DocQA

        by_reader = {}
        for name, reader_settings in compared:
            docqa = DocQA(reader_settings)
            by_reader[name] = runner.run(docqa, chosen, corpus.source_dir, progress, name)
        rows = by_reader[reader]
        others = runner.baselines(docqa, chosen)
    seconds = time.perf_counter() - clock
    results = aggregates(rows, question_set.categories)
    outcomes = [outcome(row) for row in rows]
    # what the run is about, in reports: its document, or the folder of a file asking several
    about = corpus.doc_ids[0] if len(corpus.doc_ids) == 1 else question_set.path.parent.name
    run_info: dict[str, Any] = {
        "questions_file": report.shown(question_set.path),
        "questions_version": question_set.version,
        "document": about,
        "documents": list(corpus.doc_ids),
        "source_dir": str(corpus.source_dir),
        "k": settings.top_k,
        "filters": {
            "category": args.category,
            "id": args.id,
            "split": args.split,
            **({"limit": args.limit} if args.limit is not None else {}),
        },
    }
    curve = runner.curve(rows)
    saved = report.build(
        run=run_info,
        settings=settings,
        rows=[record(row) for row in rows],
        aggregates=results,
        curve=curve,
        started=started,
        seconds=seconds,
    )
    saved["run"]["reader"] = reader
    if len(by_reader) > 1:  # the readers side by side, overall
        saved["readers"] = {name: aggregate(mine) for name, mine in by_reader.items()}
        saved["drop_reasons"] = readers.drop_reasons(
            reason for row in rows for reason in row.drop_reasons
        )
    saved["reliability"] = reliability.by_split(outcomes, others, SPLITS)
    saved["reliability_curves"] = reliability.curves_by_split(outcomes, SPLITS)
    stem = report.stem(started, about)
    json_path = report.write_json(saved, args.results_dir / f"{stem}.json")
    if args.quiet:
        print(json_path)
    else:
        chart = report.write_chart(results, args.results_dir / f"{stem}.png", settings.top_k, curve)
        _print_results(rows, results, settings.top_k, seconds)
        if "readers" in saved:
            print("the readers side by side, overall:")
            print(tables.aggregate_table(saved["readers"], settings.top_k))
            print(tables.reasons_line(rows))
            print()
        print(tables.reliability_table(saved["reliability"], "split"))
        print(f"{tables.RELIABILITY_NOTE}\n")
        print(f"report: {report.shown(json_path)}\nchart:  {report.shown(chart)}")
    if old is not None:
        _print_comparison(old, saved, args.compare)
    if thresholds is not None:
        below = gate.failures(results["overall"], thresholds)
        for failure in below:
            print(f"gate: {failure}", file=sys.stderr)
        if below:
            return 1
        print("gate: every metric within its threshold")
    return 0


def _check_mode(args: argparse.Namespace) -> None:
    """Options of one mode given in another are an error, not silently ignored."""
    if args.verifier is not None:
        _refuse(
            "--verifier",
            ("--domains", args.domains),
            ("--squad", args.squad is not None),
            ("--reader", args.reader != readers.DEFAULT_READER),
            ("--compare", args.compare),
            ("--gate", args.gate),
        )
    elif args.verifier_sentences:
        raise DatasetError("--verifier-sentences needs --verifier FILE")
    if args.domains:
        _refuse(
            "--domains",
            ("--questions", args.questions != QUESTIONS),
            ("--category", args.category),
            ("--id", args.id),
            ("--articles", args.articles),
            ("--compare", args.compare),
            ("--gate", args.gate),
            ("--reader", args.reader != readers.DEFAULT_READER),
        )
    elif args.squad is not None:
        _refuse(
            "--squad",
            ("--questions", args.questions != QUESTIONS),
            ("--category", args.category),
            ("--id", args.id),
            ("--split", args.split is not None),
            ("--compare", args.compare),
            ("--gate", args.gate),
        )
    elif args.squad_split or args.articles:
        raise DatasetError("--squad-split and --articles need --squad FILE (or --domains)")


def _refuse(mode: str, *options: tuple[str, object]) -> None:
    if wrong := [option for option, given in options if given]:
        raise DatasetError(f"{', '.join(wrong)} cannot be used with {mode}")


def _squad_splits(args: argparse.Namespace) -> list[str]:
    """The --squad-split names, repeated or comma-separated."""
    names = (name.strip() for value in args.squad_split or () for name in value.split(","))
    return [name for name in names if name]


def _evaluate_domains(args: argparse.Namespace) -> int:
    split = args.split or "tune"
    files = args.squad or list(domains.SQUAD_FILES)
    if not files:
        raise DatasetError("no SQuAD file in data/ (squad2-*.json): give one with --squad FILE")
    squad_split = ",".join(_squad_splits(args)) or domains.SQUAD_SPLIT
    if "," in squad_split:
        raise DatasetError("--domains takes one --squad-split, the SQuAD articles of one split")
    tuning = {
        "top_k": args.top_k,
        "chunk_sentences": args.chunk_sentences,
        "chunk_overlap": args.chunk_overlap,
    }
    clock = time.perf_counter()
    say = None if args.quiet else domains.say_on_stderr
    index_root = args.index_dir or domains.INDEX_CACHE
    done = domains.run(split, files, squad_split, args.limit, tuning, say, None, index_root)
    seconds = time.perf_counter() - clock
    run_info = {
        "split": split,
        "squad_files": [report.shown(path) for path in files],
        "squad_split": squad_split,
        "squad_limit": args.limit,
        "tuning": tuning,
        "index_root": str(index_root),
        "seconds": round(seconds, 3),
    }
    json_path = domains.write(done, run_info, args.results_dir)
    if args.quiet:
        print(json_path)
        return 0
    print()
    print(tables.reliability_table(domains.summaries(done), "domain"))
    print(tables.RELIABILITY_NOTE)
    print()
    for domain in done:
        print(f"{domain.name}: {domain.source} ({domain.seconds:.1f} s)")
    print(f"the run took {seconds:.1f} s\nreport: {report.shown(json_path)}")
    return 0


def _evaluate_squad(args: argparse.Namespace) -> int:
    from rag import Settings

    readers.reader_settings(Settings.from_env(), args.reader)  # DOCQA_LLM set for llm
    benchmark = squad.build(args.squad, _squad_splits(args), args.articles or (), args.limit)
    items = benchmark.items
    if not args.quiet:
        print(
            f"docqa eval --squad: {len(items)} questions "
            f"({sum(not item.answerable for item in items)} unanswerable) on "
            f"{len(benchmark.articles)} articles of "
            f"{', '.join(report.shown(path) for path in args.squad)} "
            f"(splits: {', '.join(benchmark.splits)}); docqa"
            + (f", docqa-llm ({Settings.from_env().llm})" if args.reader == "llm" else "")
            + " and the bm25 and cosine one-sentence baselines",
            flush=True,
        )
    tty = not args.quiet and sys.stderr.isatty()
    done = squad.run(
        benchmark,
        results_dir=args.results_dir,
        top_k=args.top_k,
        chunk_sentences=args.chunk_sentences,
        chunk_overlap=args.chunk_overlap,
        index_dir=args.index_dir,
        chart=not args.quiet,
        progress=squad.progress_line if tty else None,
        show_bars=tty,
        reader=args.reader,
    )
    if args.quiet:
        print(done.json_path)
        return 0
    answering = sum(row.latency for row in done.rows if row.system == "docqa")
    print()
    print(tables.squad_tables(done.aggregates))
    print()
    if args.reader == "llm":
        print(tables.squad_reader_table(done.aggregates))
        print(tables.reasons_line([r for r in done.rows if r.system == squad.LLM_SYSTEM]))
        print()
    print("whether docqa's answers hold up:")
    print(tables.reliability_table(done.reliability, "split"))
    print(tables.RELIABILITY_NOTE)
    print()
    print(
        f"top_k={done.settings.top_k}; the run took {done.seconds:.1f} s (indexing "
        f"{done.index_seconds:.1f} s, docqa answering {answering:.1f} s, the baselines' "
        f"sentence indexes {done.setup_seconds:.1f} s)"
    )
    if benchmark.skipped_golds or benchmark.skipped_questions:
        print(
            f"skipped {benchmark.skipped_golds} gold answer(s) whose span does not quote the "
            f"document, and {benchmark.skipped_questions} question(s) left with none"
        )
    if done.question_errors:
        print(f"{done.question_errors} question(s) rag refused to read, scored as abstentions")
    print(f"report: {report.shown(done.json_path)}\nchart:  {report.shown(done.chart_path or '')}")
    return 0


def _print_results(rows: list[Row], results: dict, k: int, seconds: float) -> None:
    answering = sum(row.latency for row in rows)
    passed = sum(row.passed for row in rows)
    print()
    print(tables.question_table(rows))
    print()
    by_split = {scope: values for scope, values in results.items() if scope in SPLITS}
    if by_split:
        print(tables.aggregate_table({"overall": results["overall"], **by_split}, k))
        print()
    by_category = {scope: values for scope, values in results.items() if scope not in SPLITS}
    print(tables.aggregate_table(by_category, k))
    print()
    print(
        f"{passed}/{len(rows)} passed; the suite took {seconds:.1f} s "
        f"({answering:.1f} s answering, the rest loading the model and index)"
    )


def _print_comparison(old: dict, new: dict, path: Path) -> None:
    print(
        f"\ncompared with {report.shown(path)} ({old.get('timestamp', '?')}, {old.get('commit')}):"
    )
    differing = [
        name
        for name in sorted({*old.get("settings", {}), *new["settings"]})
        if name != "index_dir" and old.get("settings", {}).get(name) != new["settings"].get(name)
    ]
    old_run = old.get("run", {})
    differing += [
        name
        for name in ("questions_file", "questions_version", "filters")
        if old_run.get(name) != new["run"].get(name)
    ]
    if differing:
        print(f"note: the runs differ in {', '.join(differing)}")
    print(tables.compare_table(old["aggregates"], new["aggregates"], new["run"]["k"]))


def _progress(done: int, total: int, row: Row) -> None:
    end = "\n" if done == total else ""
    print(f"\r[{done}/{total}] {row.id:<24}", end=end, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evals",
        description="Run the eval questions through rag.answer() and score the answers.",
    )
    pick = parser.add_argument_group("which questions")
    pick.add_argument(
        "--questions",
        type=Path,
        default=QUESTIONS,
        metavar="PATH",
        help="question file (default evals/questions.toml); its document is looked up in "
        "the source folder, then next to the file, then in seeds/",
    )
    pick.add_argument("--category", action="append", help="only this category (repeatable)")
    pick.add_argument("--id", action="append", help="only this question id (repeatable)")
    pick.add_argument(
        "--split",
        choices=("tune", "heldout", "all"),
        help="only this half of the questions (default all; with --domains, tune)",
    )
    bench = parser.add_argument_group("public benchmark (instead of the question file)")
    bench.add_argument(
        "--squad",
        type=Path,
        action="append",
        metavar="FILE",
        help="run a SQuAD 2.0 JSON file (e.g. data/squad2-train-10-articles.json; repeatable: "
        "one benchmark of them all): docqa against BM25 and cosine one-sentence baselines",
    )
    bench.add_argument(
        "--squad-split",
        action="append",
        metavar="NAME",
        help="only articles of this split of data/split.toml (train, validation; unseen for "
        "an article it does not list); repeatable or a comma list",
    )
    bench.add_argument(
        "--articles", action="append", metavar="TITLE", help="only this article (repeatable)"
    )
    bench.add_argument(
        "--limit",
        "--squad-limit",
        type=positive,
        metavar="N",
        help="at most N questions per article (of a question file, N in all), spread "
        "evenly over it, the unanswerable ones in their share",
    )
    checker = parser.add_argument_group("the answer verifier (instead of the question file)")
    checker.add_argument(
        "--verifier",
        type=Path,
        metavar="FILE",
        help="judge the hand-labelled replies of FILE (data/verifier/replies.jsonl) with the "
        "verifier of generated sentences: faithful kept, unfaithful dropped, answers surviving, "
        "per kind with the drop reasons, over the whole file and its choose and check halves",
    )
    checker.add_argument(
        "--verifier-sentences",
        action="store_true",
        help="with --verifier, also list each sentence of the choose half and its verdict",
    )
    every = parser.add_argument_group("every domain at once")
    every.add_argument(
        "--domains",
        action="store_true",
        help="one row per domain and the worst: the SQuAD validation articles (of --squad "
        "FILEs, default data/squad2-*.json; --squad-split, --squad-limit) and the --split "
        "half (default tune) of the article, second and calibration question sets",
    )
    parser.add_argument(
        "--reader",
        choices=readers.READERS,
        default=readers.DEFAULT_READER,
        help="extractive (default): the offline reader; llm: the language model of DOCQA_LLM, "
        "beside the extractive reader, with the share of generated sentences dropped as "
        "unsupported and the time to the first token and to the full answer",
    )
    tune = parser.add_argument_group("retrieval settings (over the DOCQA_* ones, for this run)")
    tune.add_argument("--top-k", type=count, help="chunks handed to the reader")
    tune.add_argument("--chunk-sentences", type=count, help="sentences per chunk")
    tune.add_argument("--chunk-overlap", type=count, help="sentences shared by neighbours")
    tune.add_argument(
        "--index-dir",
        type=Path,
        help="index folder (default: the usual one; a temporary one when the question "
        "file's document is outside the source folder); with --domains, the folder of "
        "each domain's index (default .cache/evals/, kept between runs)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--results-dir",
        type=Path,
        default=report.RESULTS_DIR,
        help="where the JSON report and PNG chart go (default evals/results/)",
    )
    out.add_argument(
        "--json-only",
        "--quiet",
        "-q",
        dest="quiet",
        action="store_true",
        help="print no tables and draw no chart: write the JSON report and print its path",
    )
    out.add_argument(
        "--compare",
        type=Path,
        metavar="OLD.json",
        help="print every aggregate metric's change since an earlier report",
    )
    out.add_argument(
        "--gate",
        action="store_true",
        help="exit 1 when an overall metric is outside evals/thresholds.toml",
    )
    out.add_argument("--thresholds", type=Path, default=gate.THRESHOLDS, help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    sys.exit(main())
