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
    assert report["aggregates"]["overall"]["questions"] == len(report["rows"]) > 0
    below = failures(report["aggregates"]["overall"], load_thresholds())
    assert not below, "below the gate (evals/thresholds.toml):\n" + "\n".join(below)


@pytest.mark.slow
def test_the_second_document_runs_in_its_own_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_index: Path
) -> None:
    questions = ROOT / "evals" / "second" / "questions.toml"
    report = _run(capsys, "--questions", str(questions), "--results-dir", str(tmp_path))
    assert report["run"]["document"] == "harbor-ferry-strike.txt"
    assert report["settings"]["index_dir"] not in (str(isolated_index), str(ROOT / "index"))
    assert report["aggregates"]["overall"]["citation_validity"] == 1.0
