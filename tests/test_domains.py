"""Follow-ups asked with the earlier answers, and `python -m evals --domains` on a tiny run.

Both go through the real components: the model from its wheel, real Chroma indexes, the
shipped question files and documents.
"""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from evals import domains, reliability, runner, tables
from evals.__main__ import main
from evals.dataset import load_questions
from rag import Answer
from rag.chain import DocQA
from rag.types import Done, Event
from tests.conftest import ROOT, SEEDS

ARTICLE_SET = ROOT / "evals" / "questions.toml"
CALIBRATION_SET = ROOT / "data" / "calibration" / "questions.toml"
SHIPPED = ROOT / "data" / "squad2-train-10-articles.json"
SPECTRE = "Spectre_(2015_film)"  # a validation article of data/split.toml


def _subset(source: Path, ids: list[str], path: Path) -> Path:
    """A question file of the questions `ids` of `source`, asking the same documents."""
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    lines = [f"version = {data['version']}"]
    if "document" in data:
        lines.append(f"document = {json.dumps(data['document'])}")
    folder = load_questions(source).source or SEEDS
    lines.append(f"source = {json.dumps(str(folder))}")
    for question in data["question"]:
        if question["id"] in ids:
            lines.append("\n[[question]]")
            lines += [
                f"{key} = {json.dumps(value, ensure_ascii=False)}"
                for key, value in question.items()
            ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_follow_up_is_asked_with_the_earlier_question_and_its_answer(
    docqa: DocQA, monkeypatch: pytest.MonkeyPatch
) -> None:
    (follow_up,) = load_questions(ARTICLE_SET).select(ids=["follow-01"])
    calls: list[tuple[str, list]] = []
    answers: dict[str, Answer] = {}
    real_stream = docqa.stream

    def stream_spy(question: str, history: list | None = None) -> Iterator[Event]:
        calls.append((question, list(history or [])))
        for event in real_stream(question, history):
            if isinstance(event, Done):
                answers[question] = event.answer
            yield event

    # Every question goes through the stream: the earlier ones (`answer` is the stream's
    # last event) and the question itself, as the UI asks it.
    monkeypatch.setattr(docqa, "stream", stream_spy)
    (row,) = runner.run(docqa, [follow_up], SEEDS)
    (earlier,) = follow_up.history
    asked = [call for call in calls if call[0] != runner.WARM_UP_QUESTION]
    assert asked[0] == (earlier, [])  # the earlier question first, with nothing before it
    question, history = asked[1]
    assert question == follow_up.question
    assert history == [(earlier, answers[earlier])] and isinstance(history[0][1], Answer)
    assert len(asked) == 2
    assert (row.id, row.history) == ("follow-01", (earlier,))


@pytest.fixture(scope="module")
def tiny_domains(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict, Path]:
    """`python -m evals --domains` on 6 questions of SQuAD's Spectre and 3 tune questions
    each of the article and the calibration set: (status, stdout, the JSON report, the
    folder holding the results and the indexes)."""
    folder = tmp_path_factory.mktemp("domains")
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
    (spectre,) = [article for article in shipped["data"] if article["title"] == SPECTRE]
    tiny_squad = folder / "tiny-squad.json"
    tiny = {**spectre, "paragraphs": spectre["paragraphs"][:2]}
    tiny_squad.write_text(json.dumps({"version": "v2.0", "data": [tiny]}), encoding="utf-8")
    sets = {
        "article": _subset(
            ARTICLE_SET, ["fact-01", "follow-01", "unans-01", "fact-02"], folder / "article.toml"
        ),
        "calibration": _subset(
            CALIBRATION_SET,
            ["leave-fact-01", "leave-follow-01", "leave-unans-01", "leave-fact-04"],
            folder / "calibration.toml",
        ),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(domains, "QUESTION_SETS", sets)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = main(
                [
                    "--domains",
                    *("--squad", str(tiny_squad), "--squad-limit", "6"),
                    *("--results-dir", str(folder / "results"), "--top-k", "3"),
                    *("--index-dir", str(folder / "indexes")),
                ]
            )
    (saved,) = (folder / "results").glob("domains-*-tune.json")
    return status, out.getvalue(), json.loads(saved.read_text(encoding="utf-8")), folder


@pytest.mark.slow
def test_the_domain_report_has_a_row_per_domain_and_the_worst(tiny_domains) -> None:
    status, printed, saved, folder = tiny_domains
    assert status == 0, printed
    indexes = sorted(path.name for path in (folder / "indexes").iterdir())
    assert indexes == ["article", "calibration", "squad-validation"]  # never the main index
    table = saved["reliability"]
    assert list(table) == ["squad", "article", "calibration", domains.WORST]
    assert saved["run"]["split"] == "tune" and saved["run"]["squad_split"] == "validation"
    counts = {name: len(domain["rows"]) for name, domain in saved["domains"].items()}
    assert counts == {"squad": 6, "article": 3, "calibration": 3}  # one of each is held out
    for name, domain in saved["domains"].items():
        rows = domain["rows"]
        outcomes = [
            reliability.Outcome(**{k: v for k, v in row.items() if k in OUTCOME_FIELDS})
            for row in rows
        ]
        answerable = [row for row in rows if row["answerable"]]
        answered = [row for row in rows if not row["abstained"]]
        values = table[name]
        assert values["questions"] == len(rows)
        assert values["answer_rate"] == pytest.approx(
            sum(row["right"] for row in answerable) / len(answerable)
        )
        assert values["bm25_answer_rate"] == pytest.approx(
            sum(row["bm25_right"] for row in answerable) / len(answerable)
        )
        assert values["ece"] == pytest.approx(
            reliability.expected_calibration_error((o.confidence, o.right) for o in outcomes)
        )
        assert values["confidently_wrong"] == (
            pytest.approx(
                sum(not r["right"] and r["confidence"] >= 0.9 for r in answered) / len(answered)
            )
            if answered
            else None
        )
        assert all(not row["right"] for row in rows if not row["answerable"])
        assert all(row["abstained"] or row["confidence"] > 0 for row in rows)
        assert domain["curve"], name
    worst = table[domains.WORST]
    named = [table[name] for name in ("squad", "article", "calibration")]
    assert worst["answer_rate"] == min(values["answer_rate"] for values in named)
    assert worst["ece"] == max(values["ece"] for values in named)
    assert worst["questions"] == 12
    # the printed table: the domains and WORST, within 100 columns
    lines = tables.reliability_table(table, "domain").splitlines()
    assert all(line in printed for line in lines)
    assert max(len(line) for line in lines) <= tables.WIDTH


OUTCOME_FIELDS = {
    "answerable",
    "abstained",
    "right",
    "confidence",
    "kind",
    "short_label",
    "split",
}


def test_the_ordinary_domain_asks_about_its_choose_documents_in_either_half() -> None:
    """data/ordinary/ is a training set (every question "train"): the domain asks the
    questions about the documents data/split.toml lists to choose on, never the training
    documents', and a question file of tune and heldout halves keeps its half."""
    from evals.dataset import load_questions
    from evals.squad_data import load_document_split

    ordinary = load_questions(domains.QUESTION_SETS["ordinary"])
    choose = {
        name
        for name, split in load_document_split(ROOT / "data" / "split.toml", "ordinary").items()
        if split == "choose"
    }
    for half in ("tune", "heldout"):
        split, chosen = domains.domain_questions("ordinary", ordinary, half)
        assert split == "choose" and {q.document for q in chosen} == choose
        assert len(chosen) == 25 * len(choose)
    calibration = load_questions(CALIBRATION_SET)
    split, chosen = domains.domain_questions("calibration", calibration, "heldout")
    assert split == "heldout" and chosen and all(q.split == "heldout" for q in chosen)
