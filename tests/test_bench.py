"""The benchmark: corpora are the article reshuffled; generated documents of every format read
back as written; a tiny run fills every section."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import report
from bench.__main__ import main
from bench.corpus import article_sentences, write_corpus
from bench.documents import FORMATS, format_counts, pdf_bytes, write_documents
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


def test_table_and_targets_with_only_the_many_docs_section() -> None:
    many = {
        "documents": 5,
        "formats": {"txt": 2, "md": 1, "pdf": 1, "docx": 1},
        "generate_s": 0.1,
        "chunks": 9,
        "build_s": 3.0,
        "chunks_per_s": 3.0,
        "raw_chunks_per_s": 4.0,
        "ratio": 0.75,
        "peak_rss_mb": 1000.0,
        "build_peak_rss_mb": 1000.0,
        "serve_peak_rss_mb": 800.0,
        "floor_peak_rss_mb": 500.0,
        "rss_ratio": 2.0,
        "questions": 62,
        "rounds": 1,
        "load_s": 5.0,
        "docqa_p50_ms": 20.0,
        "floor_p50_ms": 10.0,
        "ratio_p50": 2.0,
        "docqa_p95_ms": 30.0,
        "floor_p95_ms": 20.0,
        "ratio_p95": 1.5,
    }
    results = {"meta": {"started": "now", "cpus": 2, "seconds": 60.0}, "many_docs": many}
    results["memory"] = report.memory(results)
    results["targets"] = report.targets(results)
    assert results["memory"]["floor_mb"] == 500.0
    assert [(t["name"], t["met"]) for t in results["targets"]] == [
        ("many docs 5: chunks/s ratio", True),
        ("many docs 5: peak RSS ratio", True),
        ("many docs 5: answer p50 ratio", False),
    ]
    table = report.table(results)
    assert "many docs, 5 files (9 chunks), chunks/s" in table and "2 .txt" in table
    assert "warm latency" not in table


def _numbers(section: dict, *keys: str) -> None:
    for key in keys:
        value = section[key]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, key


@pytest.mark.slow
def test_tiny_run_writes_every_section_with_numbers_and_ratios(tmp_path: Path) -> None:
    argv = ["--docs", "3", "--scales", "1,2", "--rounds", "1", "--repeats", "1", "--no-ui"]
    argv += ["--many-docs", "5", "--split-mb", "1,2"]
    assert main([*argv, "--results", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert len(list(tmp_path.glob("bench-*.json"))) == 1

    warm = results["warm_latency"]
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
    _numbers(many, "peak_rss_mb", "rss_ratio", "docqa_p50_ms", "floor_p50_ms", "ratio_p50")
    _numbers(many, "generate_s", "load_s")
    assert many["raw_chunks"] == many["chunks"]  # few enough to encode every one
    names = [target["name"] for target in results["targets"]]
    assert [name for name in names if name.startswith("many docs 5:")] == [
        "many docs 5: chunks/s ratio",
        "many docs 5: peak RSS ratio",
        "many docs 5: answer p50 ratio",
    ]

    splits = results["splitting"]["runs"]
    assert [run["mb"] for run in splits] == [1, 2]
    for run in splits:
        _numbers(run, "seconds", "sentences", "ratio")
    assert splits[1]["sentences"] > splits[0]["sentences"]
    assert "splitting 2 MB per-MB ratio" in names

    memory = results["memory"]
    assert memory["largest_scale"] == 2
    _numbers(memory, "largest_scale_peak_mb", "floor_mb", "ratio")
    assert results["targets"] and all(isinstance(t["met"], bool) for t in results["targets"])
