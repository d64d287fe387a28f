"""python -m bench: docqa's latency, cold start, indexing, scale and memory against floors.

Prints a table and writes bench/results/bench-<time>.json and bench/results/latest.json.
python -m bench --quick                 # a few minutes
python -m bench --docs 200,2000 --scales 1,100,1000 --many-docs 10000 --rounds 3 --repeats 5
                                        # the default
python -m bench --only many-docs        # one section (or several, comma-separated)
python -m bench --only cold-start,growth --growth 1000,3000,10000
                                        # how the many-docs figures grow, fitted and projected;
                                        # the chart goes to bench/results/growth.png
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import report, sections
from bench.measure import ROOT, cpu_seconds
from rag.edge import positive

DEFAULT_DOCS = [200, 2000]  # indexing corpora, in shuffled copies of the article
DEFAULT_SCALES = [1, 100, 1000]  # scale corpora, in multiples of the article's chunks
DEFAULT_ROUNDS = 3  # passes over the eval questions; the median pass is reported
DEFAULT_REPEATS = 5  # cold starts of each process; the median is reported
DEFAULT_MANY_DOCS = 10_000  # generated documents of every format, indexed at once
DEFAULT_SPLIT_MB = [1, 8, 50]  # texts whose sentence splitting is timed
DEFAULT_GROWTH = [1000, 3000, 10_000]  # many-docs sizes whose figures are fitted
NOISY_SHARE = 0.10  # other processes using this share of the CPUs make figures noisy
QUICK = {
    "docs": [20],
    "scales": [1, 10],
    "rounds": 1,
    "repeats": 2,
    "many_docs": 50,
    "split_mb": [1, 8],
    "growth": [20, 40, 80],
}
FULL = {
    "docs": DEFAULT_DOCS,
    "scales": DEFAULT_SCALES,
    "rounds": DEFAULT_ROUNDS,
    "repeats": DEFAULT_REPEATS,
    "many_docs": DEFAULT_MANY_DOCS,
    "split_mb": DEFAULT_SPLIT_MB,
    "growth": DEFAULT_GROWTH,
}
SECTIONS = (
    "warm-latency",
    "cold-start",
    "indexing",
    "scale",
    "many-docs",
    "growth",
    "splitting",
    "verification",
)
CHART_NAME = "growth.png"


def main(argv: list[str] | None = None) -> int:
    """Run every section, print the table, write the JSON; 0 even when targets are missed."""
    args = _parser().parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    workdir = Path(tempfile.mkdtemp(prefix="docqa-bench-"))
    try:
        results = run(args, workdir)
    finally:
        if args.keep:
            print(f"bench: kept the indexes in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report.table(results), end="")
    path = report.write(results, args.results)
    print(f"\nwrote {path} and {args.results / 'latest.json'}")
    if "growth" in results:
        from bench import chart

        drawn = chart.draw(results["growth"]["figures"], args.results / CHART_NAME)
        if drawn:
            print(f"drew {drawn}")
    return 0


def run(args: argparse.Namespace, workdir: Path) -> dict:
    """Every section in turn, with the run's metadata, memory summary and targets."""
    started = time.perf_counter()
    meta = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": _commit(),
        "options": {
            "docs": args.docs,
            "scales": args.scales,
            "rounds": args.rounds,
            "questions": args.questions,
            "repeats": args.repeats,
            "many_docs": args.many_docs,
            "split_mb": args.split_mb,
            "growth": args.growth,
            "ui": not args.no_ui,
            "only": args.only,
        },
        "section_seconds": {},
        "other_cpu_share": {},  # of all CPUs, used by processes not ours: noise
        "notes": [],
    }
    results: dict = {"meta": meta}
    steps: dict[str, Callable[[], dict]] = {
        "warm_latency": lambda: sections.warm_latency(workdir, args.rounds, args.questions),
        "cold_start": lambda: sections.cold_start(workdir, args.repeats, not args.no_ui),
        "indexing": lambda: sections.indexing(workdir, args.docs),
        "scale": lambda: sections.scale(workdir, args.scales, args.rounds, args.questions),
        "many_docs": lambda: sections.many_docs(
            workdir, args.many_docs, args.rounds, questions=args.questions
        ),
        "growth": lambda: sections.growth(workdir, args.growth, args.rounds, args.questions),
        "splitting": lambda: sections.splitting(args.split_mb),
        "verification": lambda: sections.verification(args.rounds),
    }
    chosen = [name.replace("-", "_") for name in args.only or SECTIONS]
    meta["load_average_at_start"] = [round(load, 2) for load in os.getloadavg()]
    for name, step in steps.items():
        if name not in chosen:
            continue
        print(f"bench: {name.replace('_', ' ')}", file=sys.stderr, flush=True)
        began, cpu = time.perf_counter(), cpu_seconds()
        results[name] = step()
        seconds = time.perf_counter() - began
        meta["section_seconds"][name] = round(seconds, 1)
        meta["other_cpu_share"][name] = _other_share(cpu, cpu_seconds(), seconds)
    results["memory"] = report.memory(results)
    results["targets"] = report.targets(results)
    meta["notes"] = _notes(results)
    meta["seconds"] = round(time.perf_counter() - started, 1)
    return results


def _other_share(
    before: tuple[float, float] | None, after: tuple[float, float] | None, seconds: float
) -> float | None:
    """The share of all CPUs that processes other than ours used over `seconds`."""
    if before is None or after is None or seconds <= 0:
        return None
    others = (after[0] - before[0]) - (after[1] - before[1])
    return round(max(others, 0.0) / (seconds * (os.cpu_count() or 1)), 3)


def _notes(results: dict) -> list[str]:
    notes = []
    busy = {
        name: share
        for name, share in results["meta"]["other_cpu_share"].items()
        if share is not None and share >= NOISY_SHARE
    }
    if busy:
        listed = ", ".join(f"{name.replace('_', ' ')} {share:.0%}" for name, share in busy.items())
        notes.append(f"other processes used the CPUs during: {listed}; those figures are noisy")
    ui = results.get("cold_start", {}).get("ui", {})
    if "skipped" in ui:
        notes.append(f"UI cold start skipped: {ui['skipped']}")
    skipped = [name for name in SECTIONS if name.replace("-", "_") not in results]
    if skipped:
        notes.append(f"sections not run (--only): {', '.join(skipped)}")
    largest = results["memory"]["largest_scale"]
    if largest and largest < 1000:
        notes.append(f"the memory target is for 1000x; this run's largest scale is {largest}x")
    missed = [target["name"] for target in results["targets"] if not target["met"]]
    notes.append(f"targets missed: {', '.join(missed)}" if missed else "every target met")
    return notes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmark docqa against the floors beneath it."
    )
    parser.add_argument("--docs", type=_sizes, help="indexing corpora in documents (200,2000)")
    parser.add_argument("--scales", type=_sizes, help="scale corpora in articles (1,100,1000)")
    parser.add_argument("--rounds", type=int, help="passes over the eval questions (3)")
    parser.add_argument(
        "--questions",
        type=int,
        default=0,
        help="time at most this many eval questions, evenly spread (all)",
    )
    parser.add_argument("--repeats", type=int, help="cold starts of each process (5)")
    parser.add_argument(
        "--many-docs", type=positive, help="generated documents of every format, indexed (10000)"
    )
    parser.add_argument(
        "--growth", type=_sizes, help="many-docs sizes to fit growth over (1000,3000,10000)"
    )
    parser.add_argument(
        "--split-mb", type=_sizes, help="texts to split into sentences, in MB (1,8,50)"
    )
    parser.add_argument(
        "--only", type=_sections, help=f"run just these sections ({','.join(SECTIONS)})"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: a sketch")
    parser.add_argument("--no-ui", action="store_true", help="skip the ui.py cold start")
    parser.add_argument(
        "--results", type=Path, default=report.RESULTS_DIR, help="where the JSON goes"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary indexes")
    return parser


def _sizes(text: str) -> list[int]:
    """ "1,100,1000" -> [1, 100, 1000]"""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 1,100,1000, not {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be whole numbers of at least 1: {text!r}")
    return sizes


def _sections(text: str) -> list[str]:
    """ "many-docs,scale" -> ["many-docs", "scale"], each one of SECTIONS"""
    names = [part.strip().replace("_", "-") for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected sections from {', '.join(SECTIONS)}, not {text!r}"
        )
    return names


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return ""
    return done.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
