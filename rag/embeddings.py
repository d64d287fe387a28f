"""The sentence-transformers model from its wheel, loaded once per process, lazily, and run on
ONNX Runtime (rag/onnx_model.py): embedding needs no torch once the model is exported."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.onnx_model import TokenModel, token_model

# subtle: set before transformers is imported (to export the model), so nothing tries a hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The weights load from disk in a blink; their progress bar would only clutter the CLI.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class SentenceEmbeddings(Embeddings):
    """LangChain embeddings over a local sentence-transformers model, run on ONNX Runtime from
    its export in `export_folder` (made there on first need); vectors are unit length."""

    def __init__(self, model_path: str, batch_size: int, export_folder: Path) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.export_folder = export_folder

    @property
    def model(self) -> TokenModel:
        """The loaded model, shared by every instance with the same export."""
        return token_model(self.model_path, self.export_folder)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit vectors for `texts`, one row each, as float32 (no texts: no model load)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self.encode_with_parts(texts, [[] for _text in texts], progress)[0]

    def encode_with_parts(
        self,
        texts: list[str],
        parts: list[list[tuple[int, int]]],
        progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Unit vectors for `texts`, and for the given character ranges of each text.

        A text's vector is the normalised mean of its token vectors (the model's own mean
        pooling); a part's, the same mean over the tokens inside the range, so parts cost no
        extra model run, and each part is read in the context of its whole sentence.
        """
        dimension = self.dimension if texts else 0
        vectors = np.zeros((len(texts), dimension), dtype=np.float32)
        part_vectors = [np.zeros((len(ranges), dimension), dtype=np.float32) for ranges in parts]
        if not texts:
            return vectors, part_vectors
        bar = _progress_bar(len(texts)) if progress else None
        done = 0
        for batch in self.model.tokens(texts, self.batch_size):
            for row, token_vectors, spans in batch:
                vectors[row] = _unit(token_vectors.mean(axis=0))
                starts = np.array([start for start, _end in spans])
                ends = np.array([end for _start, end in spans])
                for index, (start, end) in enumerate(parts[row]):
                    inside = (ends > starts) & (starts >= start) & (ends <= end)
                    # A part past the model's reach (a sentence longer than its token limit)
                    # has no token of its own: it is read as its whole sentence.
                    part_vectors[row][index] = (
                        _unit(token_vectors[inside].mean(axis=0)) if inside.any() else vectors[row]
                    )
            done += len(batch)
            if bar is not None:
                bar.update(len(batch))
            if on_progress is not None:
                on_progress(done, len(texts))
        if bar is not None:
            bar.close()
        return vectors, part_vectors

    @property
    def dimension(self) -> int:
        """Length of one vector."""
        return self.model.dimension

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain's batch entry point."""
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """LangChain's single-query entry point."""
        return self.encode([text])[0].tolist()


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _progress_bar(total: int):
    from tqdm.auto import tqdm  # chromadb's and transformers' own dependency

    return tqdm(total=total, unit="sentence", desc="embedding")
