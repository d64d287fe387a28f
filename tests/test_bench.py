"""The benchmark: corpora are the article reshuffled; a tiny run fills every section."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.corpus import article_sentences, write_corpus
from rag.chunking import split_sentences


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


def _numbers(section: dict, *keys: str) -> None:
    for key in keys:
        value = section[key]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, key


@pytest.mark.slow
def test_tiny_run_writes_every_section_with_numbers_and_ratios(tmp_path: Path) -> None:
    argv = ["--docs", "3", "--scales", "1,2", "--rounds", "1", "--repeats", "1", "--no-ui"]
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

    memory = results["memory"]
    assert memory["largest_scale"] == 2
    _numbers(memory, "largest_scale_peak_mb", "floor_mb", "ratio")
    assert results["targets"] and all(isinstance(t["met"], bool) for t in results["targets"])
