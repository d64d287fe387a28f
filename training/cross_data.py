"""The cross-encoder's questions and candidates: every question of a data set run through
docqa's own question analysis and retrieval, so the model learns from (and is judged on)
exactly the candidates the reader is handed.

Data sets (each indexed as its own folder of documents, retrievals cached in .cache/train):
- squad-train, squad-validation: the SQuAD 2.0 articles of data/split.toml (train.retrieve);
- ordinary-train, ordinary-choose: data/ordinary/'s documents of each side of its split in
  data/split.toml (`[ordinary]`);
- calibration-tune, calibration-heldout: the two halves of data/calibration/.

A candidate holds the answer when it holds a gold answer span (SQuAD's rule, train.py's
`sentence_labels`); for the question sets also when it contains a whole evidence sentence.
Every candidate of an unanswerable question is a negative.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.squad_data import Gold, SquadQuestion, load_articles, load_document_split
from rag.chain import DocQA
from rag.chunking import is_heading, sentences
from rag.cross_encoder import candidate_passage
from rag.retrieval import Candidate
from rag.settings import PROJECT_ROOT, Settings
from rag.types import Document
from training.train import CACHE, DATA, QUESTIONS_PER_ARTICLE, SPLIT, Example, retrieve

ORDINARY = PROJECT_ROOT / "data" / "ordinary"
CALIBRATION = PROJECT_ROOT / "data" / "calibration"
SETS = (
    "squad-train",
    "ordinary-train",
    "calibration-tune",
    "ordinary-choose",
    "squad-validation",
    "calibration-heldout",
)
TRAIN_SETS = ("squad-train", "ordinary-train", "calibration-tune")
HELDOUT_SETS = ("ordinary-choose", "squad-validation", "calibration-heldout")
# Retrieval is slow on two busy cores and the question-analysis code changes often: when no
# retrieval is cached for the current code, the newest cached for the set is used (set False
# to retrieve again).
REUSE_CACHE = True


@dataclass(frozen=True)
class Asked:
    """One question with its retrieval, gold evidence and what each candidate's context is."""

    source: str  # the data set (SETS)
    example: Example  # article: the document asked about; question: golds; retrieval
    evidence: tuple[tuple[int, int], ...]  # evidence sentences' (start, end) in that document
    category: str  # the question set's category ("squad" for SQuAD)
    passages: tuple[str, ...]  # each candidate as the cross-encoder reads it (passage_text)

    @property
    def answerable(self) -> bool:
        return self.example.question.answerable

    @property
    def asked(self) -> str:
        """The question as the cross-encoder reads it: the standalone question that question
        analysis made of it (a follow-up's references resolved)."""
        return self.example.retrieval.query.standalone or self.example.question.question


def labels(asked: Asked) -> np.ndarray:
    """1 for each candidate that holds a gold answer or a whole evidence sentence of the
    document asked about, else 0 (all 0 for an unanswerable question)."""
    example = asked.example
    if not asked.answerable:
        return np.zeros(len(example.retrieval.candidates), dtype=np.int8)
    return np.array(
        [
            c.sentence.doc_id == example.article
            and (
                any(
                    c.sentence.start <= g.start and g.end <= c.sentence.end
                    for g in example.question.answers
                )
                or any(c.sentence.start <= s and e <= c.sentence.end for s, e in asked.evidence)
            )
            for c in example.retrieval.candidates
        ],
        dtype=np.int8,
    )


def headings_of(document: Document) -> list[tuple[int, str]]:
    """(start, text) of each heading of a document, in order."""
    return [
        (span.start, span.text.lstrip("#").strip())
        for span in sentences(document)
        if is_heading(span, document)
    ]


def context_passage(candidate: Candidate, headings: list[tuple[int, str]]) -> str:
    """A candidate as the cross-encoder reads it: the sentence, the sentence before it, the
    heading it stands under and its file name."""
    heading = ""
    for at, text in headings:
        if at >= candidate.sentence.start:
            break
        heading = text
    return candidate_passage(candidate, heading)


def _with_passages(
    source: str,
    examples: list[Example],
    texts: dict[str, str],
    evidence: dict[str, tuple[tuple[int, int], ...]] | None = None,
    categories: dict[str, str] | None = None,
) -> list[Asked]:
    headings = {doc: headings_of(Document(doc, text)) for doc, text in texts.items()}
    found = []
    for example in examples:
        candidates = example.retrieval.candidates
        found.append(
            Asked(
                source,
                example,
                (evidence or {}).get(example.question.id, ()),
                (categories or {}).get(example.question.id, "squad"),
                tuple(context_passage(c, headings[c.sentence.doc_id]) for c in candidates),
            )
        )
    return found


def squad_set(split: str, cache: Path) -> list[Asked]:
    args = argparse.Namespace(
        split=SPLIT,
        data=list(DATA),
        limit=QUESTIONS_PER_ARTICLE,
        top_k=Settings().top_k,
        cache=cache,
        reuse_cache=REUSE_CACHE,
    )
    examples = retrieve(split, args)
    texts = {a.file_name: a.text for path in DATA for a in load_articles(path)}
    return _with_passages(f"squad-{split}", examples, texts)


def folder_set(
    source: str, questions_path: Path, folder: Path, documents: list[str], wanted, cache: Path
) -> list[Asked]:
    """Questions of a question file (`wanted(entry)`) about `documents` of `folder`, the
    documents indexed alone as a folder of their own."""
    entries = [
        e
        for e in tomllib.loads(questions_path.read_text(encoding="utf-8"))["question"]
        if e["document"] in documents and wanted(e)
    ]
    texts = {}
    for document in documents:
        with (folder / document).open(encoding="utf-8", newline="") as handle:
            texts[document] = handle.read()
    settings = Settings.from_env({})
    digest = hashlib.sha256(questions_path.read_bytes())
    for document in documents:
        digest.update(document.encode() + texts[document].encode())
    digest.update(_code_digest().encode() + f"{settings.top_k}|{settings.chunk_sentences}".encode())
    path = cache / f"{source}-{digest.hexdigest()[:12]}.pickle"
    evidence: dict[str, tuple[tuple[int, int], ...]] = {}
    golds: dict[str, tuple[Gold, ...]] = {}
    for entry in entries:
        text = texts[entry["document"]]
        spans = []
        for quote in entry["evidence"]:
            at = text.find(quote)
            if at < 0:
                raise ValueError(f"{entry['id']}: evidence not in {entry['document']}")
            spans.append((at, at + len(quote)))
        evidence[entry["id"]] = tuple(spans)
        found = []
        for start, end in spans:
            for answer in entry["answers"]:
                at = text.find(answer, start, end)
                if at >= 0:
                    found.append(Gold(at, at + len(answer), answer))
        golds[entry["id"]] = tuple(found)
    older = sorted(cache.glob(f"{source}-*.pickle"), key=lambda p: p.stat().st_mtime)
    if not path.exists() and REUSE_CACHE and older:
        path = older[-1]
    if path.exists():
        examples = pickle.loads(path.read_bytes())
    else:
        with tempfile.TemporaryDirectory(prefix="docqa-cross-") as scratch:
            sources = Path(scratch) / "sources"
            sources.mkdir()
            for document in documents:
                (sources / document).write_text(texts[document], encoding="utf-8", newline="")
            engine = DocQA(
                Settings.from_env(
                    {},
                    source_dir=sources,
                    upload_dir=Path(scratch) / "no-uploads",
                    index_dir=Path(scratch) / "index",
                )
            )
            engine.index()
            examples = []
            for entry in entries:
                question = SquadQuestion(entry["id"], entry["question"], golds[entry["id"]])
                # An answerable question whose answers are not inside its evidence still counts
                # as answerable: its evidence sentences are its gold.
                if entry["answers"] and not question.answers:
                    question = SquadQuestion(
                        entry["id"], entry["question"], (Gold(*evidence[entry["id"]][0], ""),)
                    )
                (retrieval, *_rest) = engine.retrieve(entry["question"], list(entry["history"]))
                examples.append(Example(entry["document"], question, retrieval))
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(examples))
    categories = {e["id"]: e["category"] for e in entries}
    return _with_passages(source, examples, texts, evidence, categories)


def _code_digest() -> str:
    digest = hashlib.sha256()
    for name in ("retrieval.py", "answer_types.py", "question.py", "lexicon.py", "chunking.py"):
        digest.update((PROJECT_ROOT / "rag" / name).read_bytes())
    return digest.hexdigest()


def load_set(source: str, cache: Path = CACHE) -> list[Asked]:
    """One data set of SETS through retrieval (cached)."""
    if source.startswith("squad-"):
        return squad_set(source.removeprefix("squad-"), cache)
    if source.startswith("ordinary-"):
        side = source.removeprefix("ordinary-")
        split = load_document_split(SPLIT, "ordinary")
        documents = sorted(d for d, s in split.items() if s == side)
        return folder_set(
            source, ORDINARY / "questions.toml", ORDINARY / "docs", documents, bool, cache
        )
    half = source.removeprefix("calibration-")
    path = CALIBRATION / "questions.toml"
    documents = sorted({e["document"] for e in tomllib.loads(path.read_text())["question"]})
    return folder_set(
        source, path, CALIBRATION / "docs", documents, lambda e: e["split"] == half, cache
    )


def main() -> int:
    """Retrieve (and cache) every data set, printing how many questions and candidates."""
    for source in sys.argv[1:] or SETS:
        found = load_set(source)
        candidates = sum(len(a.passages) for a in found)
        positive = sum(int(labels(a).sum()) for a in found)
        print(f"{source}: {len(found)} questions, {candidates} candidates, {positive} positive")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
