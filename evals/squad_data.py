"""Reading SQuAD 2.0-format files: one document per article (its paragraphs joined by a
blank line) and each question's gold answers as character spans of that document.

Used by the reader's training (`python -m training`) and the public benchmark
(`python -m evals --squad FILE`), so both see the same documents, names and gold spans.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import SourceError

PARAGRAPH_BREAK = "\n\n"
MAX_STEM = 100  # characters of a file name before ".txt"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Gold:
    """A gold answer: `text == document[start:end]`."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SquadQuestion:
    """One question about an article; no answers means the article cannot answer it."""

    id: str
    question: str
    answers: tuple[Gold, ...]

    @property
    def answerable(self) -> bool:
        """False for SQuAD 2.0's unanswerable questions."""
        return bool(self.answers)


@dataclass(frozen=True)
class Article:
    """One article as one document, with its questions in file order."""

    title: str
    file_name: str  # a safe, unique .txt name for the document (see `file_name`)
    text: str
    questions: tuple[SquadQuestion, ...]
    dropped_golds: int = 0  # gold answers that do not quote their paragraph at their offset
    dropped_questions: int = 0  # answerable questions left with no gold answer, so left out


def load_articles(path: Path, limit: int | None = None) -> list[Article]:
    """Every article of a SQuAD 2.0-format file, with its first `limit` questions (counted
    in the file, before any is dropped; None: all of them).

    A question is unanswerable when `is_impossible` is true or it lists no answers. A gold
    answer that is empty or does not quote its paragraph at its offset is dropped (and
    counted), and so is an answerable question left with none. Raises SourceError for a
    file that is missing or not in SQuAD format, saying which field is wrong.
    """
    entries = _read(path)
    names: set[str] = set()
    return [_article(entry, file_name(entry["title"], names), limit) for entry in entries]


def load_split(path: Path) -> dict[str, str]:
    """Article title -> split name ("train", "validation") from a split file: TOML with one
    list of article titles per split. Tables (`[ordinary]`: another data set's split, see
    `load_document_split`) are not SQuAD splits and are left out. Raises SourceError when it
    is missing or malformed."""
    split_of: dict[str, str] = {}
    for name, titles in _read_split(path).items():
        if isinstance(titles, dict):
            continue
        if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
            raise SourceError(f"{path}: `{name}` must be a list of article titles")
        for title in titles:
            if title in split_of:
                raise SourceError(f"{path}: {title!r} is in both {split_of[title]} and {name}")
            split_of[title] = name
    return split_of


def load_document_split(path: Path, table: str) -> dict[str, str]:
    """Document file name -> split name from the `[table]` of a split file (one list of
    file names per split), e.g. load_document_split(SPLIT, "ordinary") ->
    {"bike-share-faq.md": "train", ..., "pharmacy-leaflet.txt": "choose"}. Raises
    SourceError when the file or the table is missing or malformed."""
    lists = _read_split(path).get(table)
    if not isinstance(lists, dict):
        raise SourceError(f"{path}: no [{table}] table of document lists")
    split_of: dict[str, str] = {}
    for name, documents in lists.items():
        if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
            raise SourceError(f"{path}: `{table}.{name}` must be a list of file names")
        for document in documents:
            if document in split_of:
                raise SourceError(
                    f"{path}: {document!r} is in both {split_of[document]} and {name}"
                )
            split_of[document] = name
    return split_of


def _read_split(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"no split file at {path}: check the path") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SourceError(f"cannot read the split file {path}: {error}") from None


def file_name(title: str, taken: set[str]) -> str:
    """A safe, unique (case-insensitively, within `taken`) `.txt` name for an article.

    file_name("Frédéric_Chopin", set()) -> "Fr_d_ric_Chopin.txt"; `taken` gains the name.
    """
    stem = _UNSAFE.sub("_", title)[:MAX_STEM] or "article"
    if stem.startswith("."):  # rag skips hidden files
        stem = "_" + stem[1:]
    name, number = f"{stem}.txt", 1
    while name.lower() in taken:
        number += 1
        name = f"{stem}-{number}.txt"
    taken.add(name.lower())
    return name


def _read(path: Path) -> list[dict[str, Any]]:
    """The `data` list of a SQuAD file, every field the loader reads checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"no SQuAD file at {path}: check the path") from None
    except OSError as error:
        raise SourceError(f"cannot read the SQuAD file {path}: {error}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f"{path} is not a SQuAD JSON file (not UTF-8 JSON: {error})") from None
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SourceError(
            f"{path} is not a SQuAD JSON file: it needs a non-empty `data` list of articles "
            "with `title` and `paragraphs`"
        )
    for number, entry in enumerate(entries, 1):
        _check(f"{path}: article #{number}", entry)
    return entries


def _check(where: str, entry: object) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise SourceError(f"{where} is not in SQuAD format: {what}")

    need(isinstance(entry, dict), "not an object")
    assert isinstance(entry, dict)
    need(isinstance(entry.get("title"), str), "`title` must be text")
    where += f" ({entry['title']})"
    paragraphs = entry.get("paragraphs")
    need(isinstance(paragraphs, list), "`paragraphs` must be a list")
    for paragraph in paragraphs:
        need(isinstance(paragraph, dict), "a paragraph is not an object")
        need(isinstance(paragraph.get("context"), str), "a paragraph's `context` must be text")
        need(isinstance(paragraph.get("qas"), list), "a paragraph's `qas` must be a list")
        for qa in paragraph["qas"]:
            need(isinstance(qa, dict), "a question is not an object")
            need(
                isinstance(qa.get("id"), str) and isinstance(qa.get("question"), str),
                "a question needs text `id` and `question`",
            )
            answers = qa.get("answers", [])
            need(
                isinstance(answers, list)
                and all(
                    isinstance(a, dict)
                    and isinstance(a.get("text"), str)
                    and isinstance(a.get("answer_start"), int)
                    for a in answers
                ),
                f"question {qa['id']!r}: `answers` must be a list of {{text, answer_start}}",
            )
            need(
                isinstance(qa.get("is_impossible", False), bool),
                f"question {qa['id']!r}: `is_impossible` must be true or false",
            )


def _article(entry: dict[str, Any], name: str, limit: int | None) -> Article:
    """One checked `data` entry as a document, its gold answers moved to document offsets."""
    contexts = [paragraph["context"] for paragraph in entry["paragraphs"]]
    offsets, at = [], 0
    for context in contexts:
        offsets.append(at)
        at += len(context) + len(PARAGRAPH_BREAK)
    asked = [
        (offset, context, qa)
        for offset, context, paragraph in zip(offsets, contexts, entry["paragraphs"], strict=True)
        for qa in paragraph["qas"]
    ][:limit]
    questions, dropped_golds, dropped_questions = [], 0, 0
    for offset, context, qa in asked:
        answerable = not qa.get("is_impossible", False) and bool(qa.get("answers"))
        golds = []
        for answer in qa["answers"] if answerable else []:
            start, text = answer["answer_start"], answer["text"]
            # subtle: checked within the paragraph, so a negative or overlong offset is dropped
            if text and start >= 0 and context[start : start + len(text)] == text:
                golds.append(Gold(offset + start, offset + start + len(text), text))
            else:
                dropped_golds += 1
        if answerable and not golds:
            dropped_questions += 1
            continue
        questions.append(SquadQuestion(qa["id"], qa["question"], tuple(golds)))
    return Article(
        title=entry["title"],
        file_name=name,
        text=PARAGRAPH_BREAK.join(contexts),
        questions=tuple(questions),
        dropped_golds=dropped_golds,
        dropped_questions=dropped_questions,
    )
