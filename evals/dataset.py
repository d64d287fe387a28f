"""The question file: loading, validating and locating its evidence in the document.

A question file is TOML: `version`, `document` (the file name of the document the
questions are about; `evals.setup` says where it is looked up), optionally `source` (the
folder, relative to the file, the questions are asked of) and `[[question]]` tables with
`id`, `category`, `split` ("tune" or "heldout"), `question`, `history` (earlier questions,
oldest first), `answers` and `evidence` (exact quotes of the document). A question may name
its own `document` (data/calibration/questions.toml does, for four documents); the
top-level one is then needed only by questions that do not.

How `answers` is read:
- `answers == []` (and `evidence == []`): the question is unanswerable; abstaining is right.
- category `multi_sentence`: every answer is a required part; the answer text must hold
  them ALL (see `Question.all_answers_needed`).
- any other category: the answers are alternatives; holding ONE of them is enough.
Every evidence quote is needed: retrieval and citation recall look for all of them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DatasetError

SPLITS = ("tune", "heldout")
# A set written for training only (data/ordinary/) marks every question "train"; which of its
# documents train and which choose is data/split.toml's to say, by document.
TRAINING_SPLIT = "train"
ALL_PARTS_CATEGORY = "multi_sentence"  # the one category whose answers are all required
_KEYS = frozenset({"id", "category", "split", "question", "history", "answers", "evidence"})
_OPTIONAL_KEYS = frozenset({"document"})


@dataclass(frozen=True)
class Question:
    """One eval question with its gold answers and the document quotes that support them."""

    id: str
    category: str
    split: str
    question: str
    history: tuple[str, ...]
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    document: str = ""  # the file name of the document it asks about

    @property
    def answerable(self) -> bool:
        """False for a question the document cannot answer (no gold answers)."""
        return bool(self.answers)

    @property
    def all_answers_needed(self) -> bool:
        """True when every gold answer is a required part, not an alternative."""
        return self.category == ALL_PARTS_CATEGORY


@dataclass(frozen=True)
class QuestionSet:
    """A loaded question file: its questions in file order, the documents they ask about and
    the folder they are asked of (None: looked up, see evals.setup)."""

    path: Path
    version: int
    questions: tuple[Question, ...]
    source: Path | None = None

    @property
    def documents(self) -> tuple[str, ...]:
        """The documents asked about, in order of first appearance."""
        return tuple(dict.fromkeys(question.document for question in self.questions))

    @property
    def categories(self) -> tuple[str, ...]:
        """The categories in order of first appearance."""
        return tuple(dict.fromkeys(question.category for question in self.questions))

    def select(
        self,
        categories: Iterable[str] = (),
        ids: Iterable[str] = (),
        split: str = "all",
    ) -> tuple[Question, ...]:
        """The questions matching every given filter; raises DatasetError for an unknown name."""
        categories, ids = set(categories), set(ids)
        _check_known("category", categories, set(self.categories))
        _check_known("id", ids, {question.id for question in self.questions})
        if split not in (*SPLITS, "all"):
            raise DatasetError(f"unknown split {split!r}: use tune, heldout or all")
        chosen = tuple(
            question
            for question in self.questions
            if (not categories or question.category in categories)
            and (not ids or question.id in ids)
            and (split == "all" or question.split == split)
        )
        if not chosen:
            raise DatasetError("no question matches the filters: loosen --category/--id/--split")
        return chosen


def load_questions(path: Path) -> QuestionSet:
    """Read and validate a question file; raises DatasetError naming the bad entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"no question file at {path}: check the --questions path") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DatasetError(f"cannot read the question file {path}: {error}") from None
    version, document, source = data.get("version"), data.get("document"), data.get("source")
    if not isinstance(version, int):
        raise DatasetError(f"{path}: `version` must be a whole number, not {version!r}")
    if document is not None and not _text(document):
        raise DatasetError(f"{path}: `document` must name the file the questions are about")
    if source is not None and not _text(source):
        raise DatasetError(f"{path}: `source` must name a folder next to the question file")
    entries = data.get("question")
    if not isinstance(entries, list) or not entries:
        raise DatasetError(f"{path}: holds no [[question]] tables; add one per question")
    questions = tuple(
        _question(path, number, entry, document) for number, entry in enumerate(entries, 1)
    )
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            raise DatasetError(f"{path}: the id {question.id!r} is used twice; ids must be unique")
        seen.add(question.id)
    folder = None if source is None else path.parent / source
    return QuestionSet(path, version, questions, folder)


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _question(path: Path, number: int, entry: object, document: str | None) -> Question:
    where = f"{path}: question #{number}"
    if not isinstance(entry, dict):
        raise DatasetError(f"{where} is not a table")
    if "id" in entry:
        where = f"{path}: question {entry['id']!r}"
    if missing := _KEYS - entry.keys():
        raise DatasetError(f"{where} lacks {', '.join(sorted(missing))}")
    if extra := entry.keys() - _KEYS - _OPTIONAL_KEYS:
        raise DatasetError(f"{where} has unknown keys {', '.join(sorted(extra))} (a typo?)")
    for key in ("id", "category", "split", "question"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise DatasetError(f"{where}: `{key}` must be non-empty text")
    for key in ("history", "answers", "evidence"):
        value = entry[key]
        if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
            raise DatasetError(f"{where}: `{key}` must be a list of non-empty strings")
    document = entry.get("document", document)
    if not _text(document):
        raise DatasetError(
            f"{where}: names no `document`; give it one, or the file a top-level `document`"
        )
    if entry["split"] not in (*SPLITS, TRAINING_SPLIT):
        raise DatasetError(
            f"{where}: split {entry['split']!r} is not one of {', '.join(SPLITS)} or "
            f"{TRAINING_SPLIT}"
        )
    if entry["category"] in (*SPLITS, TRAINING_SPLIT, "overall"):
        raise DatasetError(
            f"{where}: category {entry['category']!r} is taken by the report's own columns"
        )
    if bool(entry["answers"]) != bool(entry["evidence"]):
        raise DatasetError(
            f"{where}: `answers` and `evidence` must both be empty (unanswerable) or both given"
        )
    return Question(
        id=entry["id"],
        category=entry["category"],
        split=entry["split"],
        question=entry["question"],
        history=tuple(entry["history"]),
        answers=tuple(entry["answers"]),
        evidence=tuple(entry["evidence"]),
        document=document,
    )


def _check_known(kind: str, asked: set[str], known: set[str]) -> None:
    if unknown := asked - known:
        raise DatasetError(
            f"unknown {kind} {', '.join(sorted(unknown))}: choose from {', '.join(sorted(known))}"
        )


def read_text(path: Path) -> str:
    """A document exactly as on disk (UTF-8, newlines untouched, so offsets match)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def evidence_spans(question: Question, text: str) -> tuple[tuple[int, int], ...]:
    """The (start, end) of each evidence quote in `text`, found by `text.find(quote)`."""
    spans = []
    for quote in question.evidence:
        start = text.find(quote)
        if start < 0:
            raise DatasetError(
                f"question {question.id!r}: an evidence quote is not in the document: "
                f"{quote[:60]!r}…; copy it from the document exactly"
            )
        spans.append((start, start + len(quote)))
    return tuple(spans)


def problems(question_set: QuestionSet, texts: Mapping[str, str]) -> list[str]:
    """What is wrong between the questions and their documents' `texts` (file name -> text);
    empty when all is well.

    Every evidence quote must be in its question's document, and every gold answer in one of
    its question's evidence quotes (case-insensitive).
    """
    found = []
    for question in question_set.questions:
        text = texts[question.document]
        found.extend(
            f"{question.id}: evidence not in the document: {quote[:60]!r}"
            for quote in question.evidence
            if quote not in text
        )
        found.extend(
            f"{question.id}: answer {gold!r} is in none of its evidence quotes"
            for gold in question.answers
            if not any(gold.lower() in quote.lower() for quote in question.evidence)
        )
    return found
