"""evals.squad_data: SQuAD 2.0 files as documents and gold spans, article names, the split file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evals.squad_data import MAX_STEM, PARAGRAPH_BREAK, Gold, load_articles, load_split
from rag.errors import SourceError
from tests.conftest import ROOT
from training.train import DATA

SHIPPED = ROOT / "data" / "squad2-train-10-articles.json"
SPLIT = ROOT / "data" / "split.toml"
CONTEXT = "Ada Lovelace wrote the first program. She worked with Charles Babbage."


def _write(tmp_path: Path, data: object, name: str = "squad.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _qa(id: str, *answers: tuple[str, int], impossible: bool = False) -> dict:
    listed = [{"text": text, "answer_start": start} for text, start in answers]
    return {"id": id, "question": f"{id}?", "answers": listed, "is_impossible": impossible}


def test_every_answerable_gold_of_the_shipped_file_maps_exactly() -> None:
    shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))["data"]
    articles = load_articles(SHIPPED)
    assert [article.title for article in articles] == [entry["title"] for entry in shipped]
    for article, entry in zip(articles, shipped, strict=True):
        paragraphs = [paragraph["context"] for paragraph in entry["paragraphs"]]
        assert article.text == PARAGRAPH_BREAK.join(paragraphs)
        assert (article.dropped_golds, article.dropped_questions) == (0, 0)
        qas = [qa for paragraph in entry["paragraphs"] for qa in paragraph["qas"]]
        assert [question.id for question in article.questions] == [qa["id"] for qa in qas]
        for question, qa in zip(article.questions, qas, strict=True):
            assert question.answerable == (not qa["is_impossible"])
            assert [gold.text for gold in question.answers] == [
                answer["text"] for answer in qa["answers"] if not qa["is_impossible"]
            ]
            for gold in question.answers:
                assert article.text[gold.start : gold.end] == gold.text, question.id
    assert sum(q.answerable for a in articles for q in a.questions) > 0


def test_names_are_unique_and_filesystem_safe(tmp_path: Path) -> None:
    titles = [entry["title"] for entry in json.loads(SHIPPED.read_text("utf-8"))["data"]]
    titles += ["a/b", "a_b", "A_B", ".hidden", "", "x" * 300, "Frédéric_Chopin"]
    data = {"data": [{"title": title, "paragraphs": []} for title in titles]}
    names = [article.file_name for article in load_articles(_write(tmp_path, data))]
    assert len({name.lower() for name in names}) == len(names)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\.txt", name), name
        assert len(name) <= MAX_STEM + len("-2.txt")
    assert names[-7:-2] == ["a_b.txt", "a_b-2.txt", "A_B-3.txt", "_hidden.txt", "article.txt"]
    assert names[-2] == "x" * MAX_STEM + ".txt"
    assert names[-1] == "Fr_d_ric_Chopin-2.txt"  # the shipped Frédéric_Chopin took the plain name


def test_bad_gold_answers_are_dropped_and_counted(tmp_path: Path) -> None:
    second = "The Analytical Engine was never built."
    qas = [
        _qa("good", ("Charles Babbage", 54), ("Charles Babbage", 54)),
        _qa("half", ("Ada Lovelace", 0), ("Ada", 5)),  # the second is off by five
        _qa("off", ("Ada", 1)),
        _qa("negative", ("first program", -3), ("", 0)),
        _qa("impossible", ("Babbage", 62), impossible=True),
        {"id": "unlisted", "question": "unlisted?"},  # SQuAD 1.1 style, but with no answers
    ]
    data = {
        "data": [
            {
                "title": "Ada",
                "paragraphs": [
                    {"context": CONTEXT, "qas": qas},
                    {"context": second, "qas": [_qa("later", ("Analytical Engine", 4))]},
                ],
            }
        ]
    }
    path = _write(tmp_path, data)
    (article,) = load_articles(path)
    by_id = {question.id: question for question in article.questions}
    assert list(by_id) == ["good", "half", "impossible", "unlisted", "later"]
    assert by_id["good"].answers == (Gold(54, 69, "Charles Babbage"),) * 2
    assert by_id["half"].answers == (Gold(0, 12, "Ada Lovelace"),)
    assert not by_id["impossible"].answerable and not by_id["unlisted"].answerable
    start = len(CONTEXT) + len(PARAGRAPH_BREAK) + 4
    assert by_id["later"].answers == (Gold(start, start + 17, "Analytical Engine"),)
    assert article.text[start : start + 17] == "Analytical Engine"
    assert (article.dropped_golds, article.dropped_questions) == (4, 2)
    # A limit counts the questions as in the file, the dropped ones among them.
    (limited,) = load_articles(path, limit=3)
    assert [question.id for question in limited.questions] == ["good", "half"]
    assert (limited.dropped_golds, limited.dropped_questions) == (2, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "not a SQuAD JSON file (not UTF-8 JSON"),
        ('{"a": 1}', "non-empty `data` list"),
        ('{"data": []}', "non-empty `data` list"),
        ('{"data": [3]}', "article #1 is not in SQuAD format: not an object"),
        ('{"data": [{"title": 3}]}', "`title` must be text"),
        ('{"data": [{"title": "T"}]}', "article #1 (T) is not in SQuAD format: `paragraphs`"),
        ('{"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}', "`context` must be text"),
        ('{"data": [{"title": "T", "paragraphs": [{"context": ""}]}]}', "`qas` must be a list"),
        (
            '{"data": [{"title": "T", "paragraphs": [{"context": "", "qas": [{"id": "q"}]}]}]}',
            "needs text `id` and `question`",
        ),
        (
            json.dumps(
                {"data": [{"title": "T", "paragraphs": [{"context": "", "qas": [_qa("q")]}]}]}
            ).replace('"answers": []', '"answers": [{"text": "x", "answer_start": "0"}]'),
            "question 'q': `answers` must be a list of {text, answer_start}",
        ),
        (
            json.dumps(
                {"data": [{"title": "T", "paragraphs": [{"context": "", "qas": [_qa("q")]}]}]}
            ).replace("false", '"no"'),
            "question 'q': `is_impossible` must be true or false",
        ),
    ],
)
def test_a_malformed_file_raises_source_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=re.escape(message)):
        load_articles(path)


def test_a_missing_file_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no SQuAD file at"):
        load_articles(tmp_path / "absent.json")
    with pytest.raises(SourceError, match="cannot read the SQuAD file"):
        load_articles(tmp_path)  # a folder


def test_the_split_file(tmp_path: Path) -> None:
    split_of = load_split(SPLIT)
    assert set(split_of.values()) == {"train", "validation"}
    # Every shipped article, of both files, is on one side of the split.
    titles = {article.title for path in DATA for article in load_articles(path)}
    assert set(split_of) == titles and len(titles) == 25
    bad = {
        "absent.toml": None,
        "syntax.toml": "train = [",
        "type.toml": 'train = "Ada"',
        "twice.toml": 'train = ["Ada"]\nvalidation = ["Ada"]',
    }
    messages = {
        "absent.toml": "no split file at",
        "syntax.toml": "cannot read the split file",
        "type.toml": "`train` must be a list of article titles",
        "twice.toml": "'Ada' is in both train and validation",
    }
    for name, content in bad.items():
        if content is not None:
            (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(SourceError, match=re.escape(messages[name])):
            load_split(tmp_path / name)
