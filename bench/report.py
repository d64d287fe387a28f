"""Targets, the printed table, and the JSON files under bench/results/."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bench.measure import ROOT

RESULTS_DIR = ROOT / "bench" / "results"
MAX_LATENCY_RATIO = 1.5  # warm answer() against embed + Chroma query + the reader models
MAX_COLD_RATIO = 1.3  # whole process against model load + one embedding
MIN_INDEXING_RATIO = 0.85  # chunks/s of a full build against raw encode
MAX_REINDEX_SHARE = 0.05  # an unchanged rebuild against a full build
MAX_PEAK_MB = 1536.0  # at the largest scale (1,000x by default)
# The many-documents section (10,000 files of every format by default). A build also runs
# spaCy over every sentence and writes four Chroma collections, which raw encode does not.
MIN_MANY_DOCS_INDEXING_RATIO = 0.5  # chunks/s of the build against raw encode of its chunks
# Peak RSS of the build or serve process against a process holding only the model (~0.5 GiB):
# 3x is about MAX_PEAK_MB, the budget of the scale section.
MAX_MANY_DOCS_RSS_RATIO = 3.0
MAX_MANY_DOCS_LATENCY_RATIO = MAX_LATENCY_RATIO  # warm answer() p50 over the whole index
MAX_SPLIT_GROWTH = 1.5  # sentence splitting's time per MB on a large text against on 1 MB

Row = tuple[str, str, str, str, str, str]
HEADER: Row = ("measure", "docqa", "floor", "ratio", "target", "met")


def memory(results: dict) -> dict:
    """Every run's peak RSS, and the target checked at the largest scale (sections that were
    not run are left out)."""
    runs = []
    if "warm_latency" in results:
        peak = results["warm_latency"]["peak_rss_mb"]
        runs.append({"run": "warm latency, article", "peak_rss_mb": peak})
    cold = results.get("cold_start", {"cli": {}, "ui": {"skipped": "not run"}})
    cli = cold["cli"]
    if cli:
        runs.append({"run": "docqa ask process", "peak_rss_mb": cli["docqa_peak_rss_mb"]})
    ui = cold["ui"]
    if "skipped" not in ui:
        runs.append({"run": "ui.py process", "peak_rss_mb": ui["docqa_peak_rss_mb"]})
    for run in results.get("indexing", {"runs": []})["runs"]:
        runs.append({"run": f"index {run['documents']} docs", "peak_rss_mb": run["peak_rss_mb"]})
    many = results.get("many_docs")
    if many:
        for phase in ("build", "serve"):
            runs.append(
                {
                    "run": f"many docs {many['documents']:,} {phase}",
                    "peak_rss_mb": many[f"{phase}_peak_rss_mb"],
                }
            )
    scales = results.get("scale", {"runs": []})["runs"]
    for run in scales:
        for phase in ("build", "serve"):
            runs.append(
                {
                    "run": f"scale {run['scale']}x {phase}",
                    "peak_rss_mb": run[f"{phase}_peak_rss_mb"],
                }
            )
    largest = max(scales, key=lambda run: run["scale"], default=None)
    peak = max(largest["build_peak_rss_mb"], largest["serve_peak_rss_mb"]) if largest else 0.0
    # A process holding only the model: cold start runs it; without that section, many docs.
    floor = cli["floor_peak_rss_mb"] if cli else many["floor_peak_rss_mb"] if many else 0.0
    return {
        "runs": runs,
        "floor_mb": floor,  # a process holding only the model: the least docqa could use
        "largest_scale": largest["scale"] if largest else 0,
        "largest_scale_peak_mb": peak,
        "ratio": peak / floor if floor else 0.0,
    }


def targets(results: dict) -> list[dict]:
    """Each target, its measured value and whether it is met."""
    checks = []

    def check(name: str, value: float, limit: float, at_most: bool) -> None:
        met = value <= limit if at_most else value >= limit
        checks.append({"name": name, "value": value, "target": limit, "met": met})

    warm = results.get("warm_latency")
    if warm:
        check("warm latency p50 ratio", warm["ratio_p50"], MAX_LATENCY_RATIO, True)
        check("warm latency p95 ratio", warm["ratio_p95"], MAX_LATENCY_RATIO, True)
    for name, cold in results.get("cold_start", {}).items():
        if "skipped" not in cold:
            check(f"cold start {name} ratio", cold["ratio"], MAX_COLD_RATIO, True)
    for run in results.get("indexing", {"runs": []})["runs"]:
        docs = run["documents"]
        check(f"indexing {docs} docs ratio", run["ratio"], MIN_INDEXING_RATIO, False)
        check(f"re-index {docs} docs share", run["reindex_share"], MAX_REINDEX_SHARE, True)
    many = results.get("many_docs")
    if many:
        name = f"many docs {many['documents']}:"
        check(f"{name} chunks/s ratio", many["ratio"], MIN_MANY_DOCS_INDEXING_RATIO, False)
        check(f"{name} peak RSS ratio", many["rss_ratio"], MAX_MANY_DOCS_RSS_RATIO, True)
        check(f"{name} answer p50 ratio", many["ratio_p50"], MAX_MANY_DOCS_LATENCY_RATIO, True)
    for run in results.get("splitting", {"runs": []})["runs"][1:]:
        check(f"splitting {run['mb']} MB per-MB ratio", run["ratio"], MAX_SPLIT_GROWTH, True)
    mem = results["memory"]
    if mem["largest_scale"]:
        name = f"peak RSS MiB at {mem['largest_scale']}x"
        check(name, mem["largest_scale_peak_mb"], MAX_PEAK_MB, True)
    return checks


def table(results: dict) -> str:
    """The results as an aligned text table, every figure beside its floor and the ratio."""
    rows = [HEADER, *_latency_rows(results), *_cold_rows(results)]
    rows += [*_indexing_rows(results), *_scale_rows(results), *_many_docs_rows(results)]
    rows += [*_splitting_rows(results), *_memory_rows(results)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    meta = results["meta"]
    title = (
        f"docqa benchmark, {meta['started']}, {meta['cpus']} CPUs, "
        f"took {_duration(meta['seconds'])}"
    )
    notes = [f"note: {note}" for note in meta.get("notes", [])]
    return "\n".join([title, "", *lines, "", *notes]).rstrip() + "\n"


def write(results: dict, folder: Path = RESULTS_DIR) -> Path:
    """Write the results as a timestamped JSON file and as latest.json; the first's path."""
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"bench-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (folder / "latest.json").write_text(text, encoding="utf-8")
    return path


# -- rows ---------------------------------------------------------------------------------


def _row(
    label: str,
    docqa: str,
    floor: str,
    ratio: float,
    limit: float | None = None,
    *,
    at_least: bool = False,
    percent: bool = False,
    note: str = "",
) -> Row:
    """One line; with `limit`, the target (at most, unless `at_least`) and whether it is met."""
    shown = f"{ratio:.1%}" if percent else _x(ratio)
    if limit is None:
        return (label, docqa, floor, shown, "", note)
    met = ratio >= limit if at_least else ratio <= limit
    bound = f"{limit:.0%}" if percent else f"{limit}"
    return (label, docqa, floor, shown, f"{'>=' if at_least else '<='} {bound}", _met(met))


def _latency_rows(results: dict) -> list[Row]:
    if "warm_latency" not in results:
        return []
    warm = results["warm_latency"]
    label = f"warm latency, article ({warm['questions']} q x {warm['rounds']} rounds)"
    return [
        _row(
            f"{label} {stat}",
            _ms(warm[f"docqa_{stat}_ms"]),
            _ms(warm[f"floor_{stat}_ms"]),
            warm[f"ratio_{stat}"],
            MAX_LATENCY_RATIO,
        )
        for stat in ("p50", "p95")
    ]


def _cold_rows(results: dict) -> list[Row]:
    rows: list[Row] = []
    for name, cold in results.get("cold_start", {}).items():
        label = f"cold start, {'docqa ask' if name == 'cli' else 'python ui.py to page'}"
        if "skipped" in cold:
            rows.append((label, "skipped", "", "", "", cold["skipped"]))
            continue
        label += f" (median of {cold['repeats']})"
        rows.append(
            _row(label, _s(cold["docqa_s"]), _s(cold["floor_s"]), cold["ratio"], MAX_COLD_RATIO)
        )
        if "ratio_model" in cold:
            label = "  floor: the same Gradio app loading the model first"
            docqa, floor = _s(cold["docqa_s"]), _s(cold["floor_model_s"])
            rows.append(_row(label, docqa, floor, cold["ratio_model"]))
    return rows


def _indexing_rows(results: dict) -> list[Row]:
    rows: list[Row] = []
    for run in results.get("indexing", {"runs": []})["runs"]:
        docs, build = run["documents"], _s(run["build_s"])
        rows += [
            _row(
                f"indexing {docs} docs ({run['chunks']:,} chunks), chunks/s",
                f"{run['chunks_per_s']:,.1f}/s",
                f"{run['raw_chunks_per_s']:,.1f}/s",
                run["ratio"],
                MIN_INDEXING_RATIO,
                at_least=True,
            ),
            _row(
                f"re-index unchanged {docs} docs (floor: full build)",
                _s(run["reindex_s"]),
                build,
                run["reindex_share"],
                MAX_REINDEX_SHARE,
                percent=True,
            ),
            _row(
                "  the same as a whole `docqa index` process",
                _s(run["reindex_process_s"]),
                build,
                run["reindex_process_share"],
                percent=True,
            ),
        ]
    return rows


def _scale_rows(results: dict) -> list[Row]:
    rows: list[Row] = []
    for run in results.get("scale", {"runs": []})["runs"]:
        label = f"scale {run['scale']}x ({run['chunks']:,} chunks) latency"
        growth = f"p50 x{run['growth_vs_first']:.2f} of the first scale"
        for stat, note in (("p50", growth), ("p95", "")):
            docqa, floor = _ms(run[f"docqa_{stat}_ms"]), _ms(run[f"floor_{stat}_ms"])
            rows.append(_row(f"{label} {stat}", docqa, floor, run[f"ratio_{stat}"], note=note))
    return rows


def _many_docs_rows(results: dict) -> list[Row]:
    many = results.get("many_docs")
    if not many:
        return []
    docs = f"many docs, {many['documents']:,} files"
    formats = " ".join(f"{count:,} .{kind}" for kind, count in sorted(many["formats"].items()))
    queries = f"{many['questions']} q x {many['rounds']} rounds"
    return [
        _row(
            f"{docs} ({many['chunks']:,} chunks), chunks/s",
            f"{many['chunks_per_s']:,.1f}/s",
            f"{many['raw_chunks_per_s']:,.1f}/s",
            many["ratio"],
            MIN_MANY_DOCS_INDEXING_RATIO,
            at_least=True,
        ),
        (
            f"  index build; files {formats}, written in {_s(many['generate_s'])}",
            _s(many["build_s"]),
            "",
            "",
            "",
            "",
        ),
        _row(
            f"{docs}, peak RSS, build or serve (floor: model only)",
            _mb(many["peak_rss_mb"]),
            _mb(many["floor_peak_rss_mb"]),
            many["rss_ratio"],
            MAX_MANY_DOCS_RSS_RATIO,
        ),
        _row(
            f"{docs}, answer p50 ({queries})",
            _ms(many["docqa_p50_ms"]),
            _ms(many["floor_p50_ms"]),
            many["ratio_p50"],
            MAX_MANY_DOCS_LATENCY_RATIO,
        ),
        _row(
            f"{docs}, answer p95",
            _ms(many["docqa_p95_ms"]),
            _ms(many["floor_p95_ms"]),
            many["ratio_p95"],
            note=f"index loaded in {_s(many['load_s'])}",
        ),
    ]


def _splitting_rows(results: dict) -> list[Row]:
    runs = results.get("splitting", {"runs": []})["runs"]
    if not runs:
        return []
    first = runs[0]
    return [
        _row(
            f"sentence splitting, {run['mb']} MB ({run['sentences']:,} sentences), per MB "
            f"against {first['mb']} MB",
            _s(run["seconds"]),
            _s(first["seconds"] * run["mb"] / first["mb"]),
            run["ratio"],
            MAX_SPLIT_GROWTH,
        )
        for run in runs[1:]
    ]


def _memory_rows(results: dict) -> list[Row]:
    mem = results["memory"]
    if not mem["floor_mb"]:  # neither cold start nor many docs ran the model-only process
        return [
            (f"peak RSS, {run['run']}", _mb(run["peak_rss_mb"]), "", "", "", "")
            for run in mem["runs"]
        ]
    floor = _mb(mem["floor_mb"])
    rows = [
        _row(
            f"peak RSS, {run['run']} (floor: model only)",
            _mb(run["peak_rss_mb"]),
            floor,
            run["peak_rss_mb"] / mem["floor_mb"],
        )
        for run in mem["runs"]
    ]
    if mem["largest_scale"]:
        peak = mem["largest_scale_peak_mb"]
        met = _met(peak <= MAX_PEAK_MB)
        label = f"peak RSS at {mem['largest_scale']}x, build or serve"
        target = f"<= {MAX_PEAK_MB / 1024:.1f} GiB"
        rows.append((label, _mb(peak), floor, _x(mem["ratio"]), target, met))
    return rows


def _ms(value: float) -> str:
    return f"{value:,.1f} ms"


def _s(value: float) -> str:
    return f"{value:,.2f} s"


def _mb(value: float) -> str:
    return f"{value:,.0f} MiB"


def _x(value: float) -> str:
    return f"{value:.2f}"


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"
