"""The benchmark: corpora are the article reshuffled; generated documents of every format read
back as written; a tiny run fills every section."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import chart, report
from bench.__main__ import main
from bench.cold import floor_cli, parse_importtime
from bench.corpus import article_sentences, write_corpus
from bench.documents import FORMATS, format_counts, pdf_bytes, write_documents
from bench.growth import best_fit, fit_linear, fit_of, fit_power, growth
from bench.worker import spread
from rag.chunking import split_sentences
from rag.extract import extract


def test_corpus_documents_are_the_article_reshuffled(tmp_path: Path) -> None:
    sentences = article_sentences()
    folder = write_corpus(tmp_path / "small", 3)
    texts = [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))]
    assert len(texts) == 3 and len(set(texts)) == 3
    for text in texts:
        assert sorted(text[start:end] for start, end in split_sentences(text)) == sorted(sentences)
    # A smaller corpus is a prefix of a larger one, and the same on every run.
    again = write_corpus(tmp_path / "large", 5)
    assert [path.read_text(encoding="utf-8") for path in sorted(again.glob("*.txt"))][:3] == texts


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_generated_documents_of_every_format_read_back_as_written(tmp_path: Path) -> None:
    written = write_documents(tmp_path / "docs", 12)
    assert format_counts(written) == {"txt": 5, "md": 4, "html": 1, "docx": 1, "pdf": 1}
    assert {path.suffix for path in (tmp_path / "docs").iterdir()} == {
        f".{kind}" for kind in FORMATS
    }
    for document in written:
        text = _flat(extract(document.path, document.path.name).text)
        for part in (document.title, *document.paragraphs):
            assert _flat(part) in text, (document.path.name, part)
    # A smaller corpus is a prefix of a larger one (names are as wide as the count needs).
    again = write_documents(tmp_path / "fewer", 7)
    said = [(d.title, d.paragraphs, d.path.suffix) for d in written]
    assert [(d.title, d.paragraphs, d.path.suffix) for d in again] == said[:7]
    for small, large in zip(again, written, strict=False):
        if small.path.suffix != ".docx":  # Word files carry the time they were saved
            assert small.path.read_bytes() == large.path.read_bytes()


def test_hand_written_pdf_pages_read_back(tmp_path: Path) -> None:
    path = tmp_path / "two.pdf"
    path.write_bytes(pdf_bytes([["Lighthouses", "The lamp (a Fresnel lens) turns."], ["Café."]]))
    document = extract(path, "two.pdf")
    assert document.text == "Lighthouses\n\nThe lamp (a Fresnel lens) turns.\n\nCafé."
    assert len(document.pages) == 2 and document.text[document.pages[1] :] == "Café."


def test_spread_takes_evenly_spaced_items() -> None:
    items = [str(number) for number in range(10)]
    assert spread(items, 0) == items and spread(items, 20) == items
    assert spread(items, 4) == ["0", "2", "5", "7"]


def test_a_line_is_fitted_as_a_line_and_a_power_law_as_one() -> None:
    ns = [1000.0, 3000.0, 10_000.0]
    line = best_fit(ns, [2.0 + 0.5 * n for n in ns])
    assert line is not None and line.kind == "linear"
    assert line.a == pytest.approx(2.0) and line.b == pytest.approx(0.5)
    assert line.value(1_000_000) == pytest.approx(500_002.0)
    power = best_fit(ns, [3.0 * n**0.5 for n in ns])
    assert power is not None and power.kind == "power"
    assert power.a == pytest.approx(3.0) and power.b == pytest.approx(0.5)
    assert power.value(100_000) == pytest.approx(3.0 * 100_000**0.5)
    assert power.residual == pytest.approx(0.0, abs=1e-9)
    # Each fit's residual is its own error over the points: the line misses the curve.
    assert fit_linear(ns, [3.0 * n**0.5 for n in ns]).residual > 1.0
    assert "n^0.500" in power.formula() and "+ 0.5·n" in line.formula()


def test_fits_need_two_sizes_and_positive_values_for_the_power_law() -> None:
    assert best_fit([1000.0, 1000.0], [1.0, 2.0]) is None
    assert fit_power([1000.0, 2000.0], [0.0, 1.0]) is None
    falling = best_fit([1000.0, 2000.0, 3000.0], [5.0, 3.0, 1.0])
    assert falling is not None and falling.kind == "power" and falling.value(1e6) > 0
    assert best_fit([1000.0, 2000.0], [0.0, -1.0]).kind == "linear"  # no logarithm of 0
    # Two points fit either exactly: the line, the more cautious projection, is kept.
    two = best_fit([1000.0, 4000.0], [10.0, 20.0])
    assert two is not None and two.kind == "linear"


def test_growth_projects_each_figure_and_reads_back_from_json(tmp_path: Path) -> None:
    runs = [
        {"documents": n, "ready_s": 1.0 + n / 1000, "docqa_p50_ms": 10.0 * n**0.25, "x": 1}
        for n in (1000, 3000, 10_000)
    ]
    runs[1]["build_s"] = 5.0  # a figure one run lacks is not fitted
    figures = json.loads(json.dumps(growth(runs, project_to=(100_000, 1_000_000))))
    assert set(figures) == {"ready_s", "docqa_p50_ms"}
    ready = figures["ready_s"]
    assert ready["best"] == "linear" and ready["values"] == [2.0, 4.0, 11.0]
    assert ready["projections"] == {
        "100000": pytest.approx(101.0),
        "1000000": pytest.approx(1001.0),
    }
    p50 = figures["docqa_p50_ms"]
    assert p50["best"] == "power" and set(p50["fits"]) == {"linear", "power"}
    assert p50["projections"]["1000000"] == pytest.approx(10.0 * 1_000_000**0.25)
    fit = fit_of(p50)
    assert fit is not None and fit.value(100_000) == pytest.approx(10.0 * 100_000**0.25)
    path = chart.draw(figures, tmp_path / "growth.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.draw({}, tmp_path / "none.png") is None


def test_import_profile_rows_and_their_nesting() -> None:
    text = """Answer: something
import time: self [us] | cumulative | imported package
import time:       318 |        522 |     json.scanner
import time:       316 |        837 |   json.decoder
import time:      1215 |       2405 | json
"""
    assert parse_importtime(text) == [
        {"module": "json.scanner", "self_s": 0.000318, "cumulative_s": 0.000522, "depth": 2},
        {"module": "json.decoder", "self_s": 0.000316, "cumulative_s": 0.000837, "depth": 1},
        {"module": "json", "self_s": 0.001215, "cumulative_s": 0.002405, "depth": 0},
    ]


def test_the_cli_floor_loads_the_export_the_index_keeps(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no ONNX export"):
        floor_cli(tmp_path / "index")
    export = tmp_path / "index" / "onnx" / "abc123" / "model.onnx"
    export.parent.mkdir(parents=True)
    export.write_bytes(b"")
    script = floor_cli(tmp_path / "index")
    compile(script, "floor_cli.py", "exec")  # a script Python can run
    assert repr(str(export)) in script and repr(str(tmp_path / "index" / "chroma")) in script
    assert "import onnxruntime" in script and "sentence_transformers" not in script
    assert "'docqa-live'" in script


def _serving(documents: int, **figures: float) -> dict:
    run = {
        "documents": documents,
        "chunks": 9,
        "build_s": 100.0,
        "build_peak_rss_mb": 900.0,
        "build_rss_ratio": 3.0,
        "floor_peak_rss_mb": 300.0,
        "ready_s": 2.0,
        "first_answer_s": 2.5,
        "serve_import_s": 1.25,
        "serve_index_s": 0.25,
        "serve_peak_rss_mb": 400.0,
        "rss_ratio": 400.0 / 300.0,
        "questions": 62,
        "rounds": 1,
        "docqa_p50_ms": 20.0,
        "floor_p50_ms": 10.0,
        "ratio_p50": 2.0,
        "docqa_p95_ms": 30.0,
        "floor_p95_ms": 20.0,
        "ratio_p95": 1.5,
        "reindex_s": 0.5,
        "reindex_share": 0.005,
    }
    run.update(figures)
    return run


def test_table_and_targets_with_only_the_many_docs_section() -> None:
    many = _serving(
        5,
        formats={"txt": 2, "md": 1, "pdf": 1, "docx": 1},
        generate_s=0.1,
        chunks_per_s=3.0,
        raw_chunks_per_s=4.0,
        ratio=0.75,
    )
    results = {"meta": {"started": "now", "cpus": 2, "seconds": 60.0}, "many_docs": many}
    results["memory"] = report.memory(results)
    results["targets"] = report.targets(results)
    assert results["memory"]["floor_mb"] == 300.0
    assert [(t["name"], t["met"]) for t in results["targets"]] == [
        ("many docs 5: chunks/s ratio", True),
        ("many docs 5: ready to answer s", True),
        ("many docs 5: serving RSS ratio", True),
        ("many docs 5: answer p50 ratio", False),
        ("many docs 5: unchanged re-index share", True),
    ]
    table = report.table(results)
    assert "many docs, 5 files (9 chunks), chunks/s" in table and "2 .txt" in table
    assert "warm latency" not in table and "before and after issue 20" in table


def test_issue_20_targets_are_checked_at_the_largest_growth_size() -> None:
    runs = [_serving(1000), _serving(10_000, ready_s=3.5, rss_ratio=1.6, reindex_share=0.02)]
    cli = {"docqa_s": 1.2, "floor_s": 1.0, "ratio": 1.2, "repeats": 3}
    cli.update(docqa_peak_rss_mb=500.0, floor_peak_rss_mb=400.0)
    results = {
        "meta": {"started": "now", "cpus": 2, "seconds": 60.0},
        "growth": {"runs": runs},
        "cold_start": {"cli": cli, "ui": {"skipped": "--no-ui"}, "model_floor_peak_rss_mb": 250.0},
    }
    results["memory"] = report.memory(results)
    assert results["memory"]["floor_mb"] == 250.0
    checks = {t["name"]: (t["value"], t["target"], t["met"]) for t in report.targets(results)}
    assert checks == {
        "cold start cli ratio": (1.2, 1.3, True),
        "growth 10000: ready to answer s": (3.5, 3.0, False),
        "growth 10000: serving RSS ratio": (1.6, 1.5, False),
        "growth 10000: answer p50 ratio": (2.0, 1.3, False),
        "growth 10000: unchanged re-index share": (0.02, 0.01, False),
    }
    rows = report.before_after(results)
    assert [row[0].split(",")[0] for row in rows] == [
        "cold `docqa ask` (floor: onnxruntime + model + embed + Chroma open)",
        "serving process ready to answer",
        "serving process peak RSS",
        "answer p50",
        "unchanged re-index",
    ]
    assert rows[1][1:] == ("30.70 s", "3.50 s", "<= 3 s", "NO")
    assert all("10,000 docs" in row[0] for row in rows[1:])
    table = report.table(results)
    assert "cold start, docqa ask (median of 3)" in table and "growth, 10,000 files" in table
    assert "ready to answer (imports 1.25 s, index() 0.25 s, first answer 2.50 s)" in table


def _numbers(section: dict, *keys: str) -> None:
    for key in keys:
        value = section[key]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, key


@pytest.mark.slow
def test_tiny_run_writes_every_section_with_numbers_and_ratios(tmp_path: Path) -> None:
    argv = ["--docs", "3", "--scales", "1,2", "--rounds", "1", "--questions", "6"]
    argv += ["--repeats", "1", "--no-ui"]
    argv += ["--many-docs", "5", "--split-mb", "1,2", "--growth", "5,10"]
    assert main([*argv, "--results", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert len(list(tmp_path.glob("bench-*.json"))) == 1

    warm = results["warm_latency"]
    assert warm["questions"] == 6
    _numbers(warm, "docqa_p50_ms", "docqa_p95_ms", "floor_p50_ms", "floor_p95_ms")
    _numbers(warm, "ratio_p50", "ratio_p95", "peak_rss_mb")

    cli = results["cold_start"]["cli"]
    _numbers(cli, "docqa_s", "floor_s", "ratio", "docqa_peak_rss_mb", "floor_peak_rss_mb")
    assert "skipped" in results["cold_start"]["ui"]

    [indexing] = results["indexing"]["runs"]
    assert indexing["documents"] == 3 and indexing["reindex_embedded"] == 0
    _numbers(indexing, "chunks_per_s", "raw_chunks_per_s", "ratio", "reindex_share")
    _numbers(indexing, "reindex_process_s", "peak_rss_mb")

    runs = results["scale"]["runs"]
    assert [run["scale"] for run in runs] == [1, 2]
    assert runs[1]["chunks"] == 2 * runs[0]["chunks"]
    for run in runs:
        _numbers(run, "docqa_p50_ms", "floor_p50_ms", "ratio_p50", "ratio_p95")
        _numbers(run, "build_peak_rss_mb", "serve_peak_rss_mb")

    many = results["many_docs"]
    assert many["documents"] == 5 and many["formats"] == {f: 1 for f in set(FORMATS)}
    _numbers(many, "chunks", "build_s", "chunks_per_s", "raw_chunks", "raw_chunks_per_s")
    _numbers(many, "ratio", "build_peak_rss_mb", "serve_peak_rss_mb", "floor_peak_rss_mb")
    _numbers(many, "rss_ratio", "docqa_p50_ms", "floor_p50_ms", "ratio_p50")
    _numbers(many, "generate_s", "load_s", "ready_s", "first_answer_s", "reindex_s")
    assert many["raw_chunks"] == many["chunks"]  # few enough to encode every one
    assert many["reindex_embedded"] == 0 and many["serve_embedded"] == 0
    assert many["ready_s"] < many["first_answer_s"]
    names = [target["name"] for target in results["targets"]]
    assert [name for name in names if name.startswith("many docs 5:")] == [
        "many docs 5: chunks/s ratio",
        "many docs 5: ready to answer s",
        "many docs 5: serving RSS ratio",
        "many docs 5: answer p50 ratio",
        "many docs 5: unchanged re-index share",
    ]
    grown = results["growth"]
    assert [run["documents"] for run in grown["runs"]] == [5, 10]
    assert "raw_s" not in grown["runs"][0]
    assert set(grown["figures"]) == {
        "ready_s",
        "serve_peak_rss_mb",
        "docqa_p50_ms",
        "reindex_s",
        "build_s",
        "build_peak_rss_mb",
    }
    for figure in grown["figures"].values():
        assert set(figure["projections"]) == {"100000", "1000000"}
    assert (tmp_path / "growth.png").stat().st_size > 0
    assert "growth 10: ready to answer s" in names
    profile = results["cold_start"]["imports"]
    assert len(profile["top"]) == 10 and profile["top"][0]["cumulative_s"] > 0
    assert any(row["module"].startswith("rag") for row in profile["top_level"])
    assert {row["depth"] for row in profile["top_level"]} == {0}
    assert 0 < profile["import_s"] < profile["seconds"]
    _numbers(many, "serve_import_s", "serve_index_s", "serve_ready_rss_mb")
    _numbers(results["cold_start"], "model_floor_peak_rss_mb")

    splits = results["splitting"]["runs"]
    assert [run["mb"] for run in splits] == [1, 2]
    for run in splits:
        _numbers(run, "seconds", "sentences", "ratio")
    assert splits[1]["sentences"] > splits[0]["sentences"]
    assert "splitting 2 MB per-MB ratio" in names

    verified = results["verification"]
    assert verified["replies"] >= 1 and verified["sentences"] >= verified["replies"]
    _numbers(verified, "docqa_ms", "floor_ms", "ratio")
    assert "verification of 3 sentences ms" in names

    memory = results["memory"]
    assert memory["largest_scale"] == 2
    _numbers(memory, "largest_scale_peak_mb", "floor_mb", "ratio")
    assert results["targets"] and all(isinstance(t["met"], bool) for t in results["targets"])
