"""Reading SQuAD 2.0-format files: one document per article (its paragraphs joined by a
blank line) and each question's gold answers as character spans of that document."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import SourceError

PARAGRAPH_BREAK = "\n\n"


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
    """One article as one document, with its questions."""

    title: str
    file_name: str  # a safe, unique .txt name for the document
    text: str
    questions: tuple[SquadQuestion, ...]


def load_articles(path: Path) -> list[Article]:
    """Every article of a SQuAD 2.0-format file; a gold answer that does not match its
    paragraph at its offset is dropped. Raises SourceError for a file that is not SQuAD."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["data"]
        names: set[str] = set()
        return [_article(entry, names) for entry in entries]
    except FileNotFoundError:
        raise SourceError(f"no SQuAD file at {path}: check the path") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise SourceError(
            f"{path} is not a SQuAD 2.0 JSON file ({type(error).__name__}: {error}): it needs "
            "data[].title and data[].paragraphs[].context/qas"
        ) from None


def load_split(path: Path) -> dict[str, str]:
    """Article title -> split name ("train", "validation") from a split file."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {title: split for split, titles in data.items() for title in titles}


def _article(entry: dict, names: set[str]) -> Article:
    title = str(entry["title"])
    parts, questions, offset = [], [], 0
    for paragraph in entry["paragraphs"]:
        context = paragraph["context"]
        for qa in paragraph["qas"]:
            answers = {}
            if not qa.get("is_impossible", False):
                for answer in qa["answers"]:
                    start = offset + int(answer["answer_start"])
                    text = answer["text"]
                    if context[answer["answer_start"] :].startswith(text) and text:
                        answers[(start, start + len(text))] = Gold(start, start + len(text), text)
            if answers or qa.get("is_impossible", False):
                questions.append(SquadQuestion(str(qa["id"]), qa["question"], tuple(answers.values())))
        parts.append(context)
        offset += len(context) + len(PARAGRAPH_BREAK)
    stem = re.sub(r"[^\w.-]+", "_", title).strip("._") or "article"
    name, number = f"{stem}.txt", 2
    while name in names:
        name, number = f"{stem}-{number}.txt", number + 1
    names.add(name)
    return Article(title, name, PARAGRAPH_BREAK.join(parts), tuple(questions))
