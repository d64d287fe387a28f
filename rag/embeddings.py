"""The sentence-transformers model from its wheel, loaded once per process, lazily."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

# subtle: set before sentence-transformers is imported, so nothing tries a model hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The weights load from disk in a blink; their progress bar would only clutter the CLI.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

_LOCK = threading.Lock()
_MODELS: dict[str, object] = {}


class SentenceEmbeddings(Embeddings):
    """LangChain embeddings over a local sentence-transformers model; vectors are unit length."""

    def __init__(self, model_path: str, batch_size: int = 64) -> None:
        self.model_path = model_path
        self.batch_size = batch_size

    @property
    def model(self):  # -> sentence_transformers.SentenceTransformer
        """The loaded model, shared by every instance with the same path."""
        with _LOCK:
            if self.model_path not in _MODELS:
                from sentence_transformers import SentenceTransformer

                _MODELS[self.model_path] = SentenceTransformer(
                    self.model_path, device="cpu", local_files_only=True
                )
            return _MODELS[self.model_path]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit vectors for `texts`, one row each, as float32 (no texts: no model load)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_with_parts(
        self,
        texts: list[str],
        parts: list[list[tuple[int, int]]],
        progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Unit vectors for `texts`, and for the given character ranges of each text.

        A part's vector is the normalised mean of the text's token vectors inside the range:
        the same mean pooling the model applies to the whole text, so parts cost no extra
        model run, and each part is read in the context of its whole sentence.
        """
        dimension = self.dimension if texts else 0
        vectors = np.zeros((len(texts), dimension), dtype=np.float32)
        part_vectors = [np.zeros((len(ranges), dimension), dtype=np.float32) for ranges in parts]
        if not texts:
            return vectors, part_vectors
        model = self.model
        # Token vectors are pooled a block at a time: kept for a whole corpus they would
        # take gigabytes.
        block = self.batch_size * 16
        bar = _progress_bar(len(texts)) if progress else None
        for first in range(0, len(texts), block):
            rows = range(first, min(first + block, len(texts)))
            batch = [texts[row] for row in rows]
            tokens = model.encode(
                batch, batch_size=self.batch_size, output_value="token_embeddings"
            )
            offsets = model.tokenizer(
                batch, return_offsets_mapping=True, truncation=True, max_length=model.max_seq_length
            )["offset_mapping"]
            for row, token_vectors, spans in zip(rows, tokens, offsets, strict=True):
                token_vectors = token_vectors.float().numpy()
                vectors[row] = _unit(token_vectors.mean(axis=0))
                starts = np.array([start for start, _end in spans])
                ends = np.array([end for _start, end in spans])
                for index, (start, end) in enumerate(parts[row]):
                    inside = (ends > starts) & (starts >= start) & (ends <= end)
                    # A part past the model's reach (a sentence longer than max_seq_length
                    # tokens) has no token of its own: it is read as its whole sentence.
                    part_vectors[row][index] = (
                        _unit(token_vectors[inside].mean(axis=0)) if inside.any() else vectors[row]
                    )
            if bar is not None:
                bar.update(len(rows))
            if on_progress is not None:
                on_progress(rows.stop, len(texts))
        if bar is not None:
            bar.close()
        return vectors, part_vectors

    @property
    def dimension(self) -> int:
        """Length of one vector."""
        return int(self.model.get_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain's batch entry point."""
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """LangChain's single-query entry point."""
        return self.encode([text])[0].tolist()


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _progress_bar(total: int):
    from tqdm.auto import tqdm  # sentence-transformers' own dependency

    return tqdm(total=total, unit="sentence", desc="embedding")
