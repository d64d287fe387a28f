"""`--reader llm` in the evals: the readers side by side, the sentences the verifier dropped and
the time to the first token. A fake chat model (langchain-core's) stands in for a language
model; everything else is real: the seed article's index, the model from its wheel."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from evals import readers, runner, squad, tables
from evals.__main__ import main
from evals.dataset import load_questions
from evals.scoring import METRICS, aggregate, score
from rag import Answer, Citation
from rag.chain import DocQA
from rag.errors import DatasetError
from rag.settings import Settings
from tests.conftest import ROOT, SEEDS

# The fake model's reply to every question: one sentence citing passage 1, one citing
# nothing, one quoting words that are in no passage. Only the first can survive.
REPLY = (
    "North Korea reportedly fired two ballistic missiles [1]. It was a sunny day for everyone. "
    'The minister said "purple elephants dance at midnight" [1].'
)
QUESTION_IDS = ("fact-01",)  # a question of the shipped set that passage 1 answers


def _fake_model() -> GenericFakeChatModel:
    """A chat model that streams REPLY word by word, as often as it is asked."""
    return GenericFakeChatModel(messages=itertools.cycle([REPLY]))


def _row(**fields: object):
    """A scored row of a made-up question, with the reader fields given."""
    question = load_questions(ROOT / "evals" / "questions.toml").questions[0]
    answer = Answer("x", [Citation("d.txt", 0, 1, "x")])
    return replace(score(question, answer, [], {"d.txt": "x"}.get, 4, 1.0), **fields)


def test_reader_llm_without_docqa_llm_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.delenv("DOCQA_LLM", raising=False)
    with pytest.raises(DatasetError, match="set DOCQA_LLM"):
        readers.reader_settings(Settings.from_env(), "llm")
    squad_file = str(ROOT / "data" / "squad2-train-10-articles.json")
    for options in (["--reader", "llm"], ["--squad", squad_file, "--reader", "llm"]):
        assert main([*options, "--results-dir", str(tmp_path)]) == 2
        assert "--reader llm needs a language model: set DOCQA_LLM" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before anything ran


def test_the_readers_compared_are_the_extractive_one_and_then_the_model() -> None:
    settings = Settings.from_env({"DOCQA_LLM": "ollama:llama3.2"})
    assert [(name, s.llm) for name, s in readers.reader_settings(settings, "extractive")] == [
        ("extractive", "")
    ]
    assert [(name, s.llm) for name, s in readers.reader_settings(settings, "llm")] == [
        ("extractive", ""),
        ("llm", "ollama:llama3.2"),
    ]


def test_reader_metrics_count_sentences_dropped_and_time_the_first_token() -> None:
    rows = [
        _row(asked_reader="llm", answered_by="llm", first_token=0.5, sentences=3, dropped=1),
        _row(asked_reader="llm", answered_by="extractive", first_token=1.5, sentences=2, dropped=2),
        _row(asked_reader="llm", answered_by="extractive", first_token=None),  # model failed
    ]
    values = aggregate(rows)
    assert values["llm_answered"] == pytest.approx(1 / 3)
    assert values["sentences_dropped"] == pytest.approx(3 / 5)
    assert values["first_token_p50"] == pytest.approx(1.0)
    assert list(aggregate([_row()])) == list(METRICS)  # the extractive reader: as before
    assert readers.drop_reasons(
        ["cites passage 7 of 3", "no valid citation", "cites passage 9 of 4", "words not in: a, b"]
    ) == {"cites passage n of n": 2, "no valid citation": 1, "words not in": 1}


def test_the_side_by_side_table_shows_the_llm_readers_own_rows() -> None:
    extractive = aggregate([_row()])
    generated = aggregate(
        [_row(asked_reader="llm", answered_by="llm", first_token=0.25, sentences=4, dropped=1)]
    )
    table = tables.aggregate_table({"extractive": extractive, "llm": generated}, k=4)
    lines = {line.split("  ")[0]: line.split() for line in table.splitlines()}
    assert lines["sentences dropped"][-2:] == ["-", "0.250"]
    assert lines["first token p50 (s)"][-2:] == ["-", "0.250"]
    assert lines["answered by the LLM"][-2:] == ["-", "1.000"]
    assert max(len(line) for line in table.splitlines()) <= tables.WIDTH
    assert "sentences dropped" not in tables.aggregate_table({"overall": extractive}, k=4)


@pytest.mark.slow
def test_the_llm_reader_through_a_fake_model(docqa: DocQA) -> None:
    """Each question is asked of the extractive reader and of a DocQA with a fake chat
    model; the llm rows count the sentences the verifier judged and dropped, and time the
    model's first token before the full answer."""
    chosen = load_questions(ROOT / "evals" / "questions.toml").select((), QUESTION_IDS, "all")
    extractive = runner.run(docqa, chosen, SEEDS, reader="extractive")
    generative = DocQA(docqa.settings, chat_model=_fake_model())
    generated = runner.run(generative, chosen, SEEDS, reader="llm")
    for row in generated:
        assert row.asked_reader == "llm" and row.answered_by == "llm", row.text
        assert (row.sentences, row.dropped) == (3, 2), row.drop_reasons
        # the sentence without a marker was checked against every passage, and none held it
        assert any(reason.startswith("no valid citation") for reason in row.drop_reasons)
        assert row.first_token is not None and 0 < row.first_token <= row.latency
        assert "sunny" not in row.text and "elephants" not in row.text
        assert row.valid_citations == len(row.citations) > 0
    for row in extractive:
        assert (row.asked_reader, row.first_token, row.sentences) == ("extractive", None, 0)
    side_by_side = {"extractive": aggregate(extractive), "llm": aggregate(generated)}
    assert side_by_side["llm"]["sentences_dropped"] == pytest.approx(2 / 3)
    assert side_by_side["llm"]["llm_answered"] == 1.0
    table = tables.aggregate_table(side_by_side, k=4)
    assert "sentences dropped" in table and "0.667" in table
    line = tables.reasons_line(generated)
    assert (
        line.startswith("2 of 3 generated sentences dropped: ")
        and "no valid citation, and words not in the passages it cites 1" in line
    )


@pytest.mark.slow
def test_the_squad_benchmark_adds_the_llm_reader_as_a_system(tmp_path: Path) -> None:
    benchmark = squad.build(
        [ROOT / "data" / "squad2-train-10-articles.json"], (), ("Spectre_(2015_film)",), 2
    )
    done = squad.run(
        benchmark, results_dir=tmp_path, chart=False, reader="llm", chat_model=_fake_model()
    )
    assert list(done.aggregates) == ["docqa", "docqa-llm", "bm25", "cosine"]
    overall = done.aggregates["docqa-llm"]["overall"]
    assert overall["sentences_dropped"] is not None and overall["first_token_p50"] is not None
    assert "sentences_dropped" not in done.aggregates["docqa"]["overall"]
    assert done.report["run"]["reader"] == "llm" and done.report["drop_reasons"]
    table = tables.squad_reader_table(done.aggregates)
    assert "docqa-llm" in table and "bm25" not in table and "sentences dropped" in table
