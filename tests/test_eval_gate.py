"""The quality gate: the whole eval suite, in-process, against evals/thresholds.toml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.__main__ import main
from evals.gate import failures, load_thresholds
from tests.conftest import ROOT


def _run(capsys: pytest.CaptureFixture[str], *options: str) -> dict:
    """Run `python -m evals --json-only` in-process; returns the JSON report it wrote."""
    status = main(["--json-only", *options])
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 0 and out, "the eval suite did not finish"
    return json.loads(Path(out[-1]).read_text(encoding="utf-8"))


@pytest.mark.slow
def test_every_overall_metric_meets_its_threshold(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_index: Path
) -> None:
    report = _run(capsys, "--results-dir", str(tmp_path))
    assert report["settings"]["index_dir"] == str(isolated_index)  # never the main index
    overall = report["aggregates"]["overall"]
    assert overall["questions"] == len(report["rows"]) > 0
    # Correctness is never excused: every citation quotes the document exactly.
    assert overall["citation_validity"] == 1.0
    below = failures(overall, load_thresholds())
    if below:  # answer quality: the learned reader is below the bounds the rules reached
        pytest.xfail("learned reader: see issue 18; below the gate:\n" + "\n".join(below))


@pytest.mark.slow
def test_the_second_document_runs_in_its_own_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_index: Path
) -> None:
    questions = ROOT / "evals" / "second" / "questions.toml"
    report = _run(capsys, "--questions", str(questions), "--results-dir", str(tmp_path))
    assert report["run"]["document"] == "harbor-ferry-strike.txt"
    assert report["settings"]["index_dir"] not in (str(isolated_index), str(ROOT / "index"))
    assert report["aggregates"]["overall"]["citation_validity"] == 1.0
