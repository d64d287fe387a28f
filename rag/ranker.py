"""The reader's learned models, loaded from the small artifact that `python -m training`
(training/train.py) writes, rag/models/reader.json: a sentence ranker, a phrase ranker, the
label prior and the thresholds chosen on the validation articles; and, once `python -m
training route` has fitted it, the cross-encoder's route (`CrossRoute`): which candidates the
cross-encoder reads, and how its reading becomes the choice and the confidence."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer_types import DEPENDENCIES, LABELS
from rag.errors import SettingsError
from rag.features import (
    ANSWER_FEATURES,
    CATEGORICAL,
    CONTEXT_FEATURES,
    PHRASE_FEATURES,
    SENTENCE_FEATURES,
)
from rag.question import KINDS
from rag.settings import DEFAULT_READER_PATH
from rag.trees import parse

ARTIFACT_FORMAT = 1
# What the cross-encoder route's answer model reads of each candidate the cross-encoder read:
# its raw score (log-odds), the fast sentence model's score as log-odds, its margin over the
# best other candidate read (negative for all but the best), and the answerability model's
# confidence in the question as log-odds (the same for every candidate of a question), and how
# much of the question its sentence and context hold (rag.features.CONTEXT_FEATURES).
CROSS_FEATURES = (
    "cross_logit",
    "sentence_logit",
    "cross_margin",
    "answerable_logit",
    *CONTEXT_FEATURES,
)
# How many codes each categorical feature has: its width once one-hot encoded.
CATEGORY_SIZES = {"kind": len(KINDS), "label": len(LABELS), "dependency": len(DEPENDENCIES)}


@dataclass(frozen=True)
class Scorer:
    """One fitted model: feature rows in, probabilities out."""

    kind: str  # "lightgbm" or "logistic"
    features: tuple[str, ...]
    params: dict[str, Any]

    def __post_init__(self) -> None:
        if self.kind == "lightgbm":  # evaluated by rag.trees: answering never imports lightgbm
            object.__setattr__(self, "_forest", parse(self.params["model"]))

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The probability that each row is a right answer."""
        if len(rows) == 0:
            return np.zeros(0)
        if self.kind == "lightgbm":
            return self._forest.predict(rows)  # type: ignore[attr-defined]
        design = one_hot(rows, self.features)
        mean, scale = np.asarray(self.params["mean"]), np.asarray(self.params["scale"])
        logits = ((design - mean) / scale) @ np.asarray(self.params["coef"]) + self.params[
            "intercept"
        ]
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self) -> dict[str, Any]:
        """The scorer as it is saved in the artifact."""
        return {"kind": self.kind, "features": list(self.features), "params": self.params}


def one_hot(rows: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """Rows with each categorical column replaced by one column per category (for linear
    models, which cannot split on a code)."""
    blocks = []
    for column, name in enumerate(features):
        values = rows[:, column]
        if name in CATEGORICAL:
            codes = values.astype(int)
            block = np.zeros((len(rows), CATEGORY_SIZES[name]), dtype=np.float32)
            block[np.arange(len(rows)), codes] = 1.0
            blocks.append(block)
        else:
            blocks.append(values[:, None])
    return np.hstack(blocks)


@dataclass(frozen=True)
class CrossRoute:
    """The cross-encoder's part in reading: it reads the fast sentence model's `top_k` best
    candidates, and `answer` (a logistic model over CROSS_FEATURES) gives each of them the
    probability that it answers the question, which chooses the sentence and is the
    confidence. `encoder` is the ONNX model named by `model` beside the artifact."""

    top_k: int
    answer: Scorer
    model: str  # the cross-encoder's file, beside the artifact
    encoder: Any = field(default=None, compare=False, repr=False)  # rag.cross_encoder

    def to_json(self) -> dict[str, Any]:
        """The route as it is saved in the artifact."""
        return {"top_k": self.top_k, "answer": self.answer.to_json(), "model": self.model}


@dataclass(frozen=True)
class ReaderModel:
    """Everything the reader needs besides its candidates."""

    sentence: Scorer  # how likely each candidate sentence is to hold the answer
    phrase: Scorer  # how likely each phrase of the chosen sentence is to be the answer
    answerable: Scorer  # how likely the chosen sentence is to answer at all: the confidence
    prior: dict[str, dict[str, float]]  # P(label | kind), see rag.features
    no_answer_threshold: float  # answer when the confidence reaches it
    short_threshold: float  # give a short answer when the best phrase's probability reaches it
    version: str  # a digest of the artifact: part of the index fingerprint
    sure_threshold: float = 0.9  # state an answer plainly at this confidence; hedge below it
    cross: CrossRoute | None = None  # when set, the cross-encoder chooses and gives confidence

    def to_json(self) -> dict[str, Any]:
        """The artifact's content (without its version, which is its digest)."""
        cross = {"cross": self.cross.to_json()} if self.cross is not None else {}
        return cross | {
            "format": ARTIFACT_FORMAT,
            "sentence": self.sentence.to_json(),
            "phrase": self.phrase.to_json(),
            "answerable": self.answerable.to_json(),
            "prior": self.prior,
            "no_answer_threshold": self.no_answer_threshold,
            "short_threshold": self.short_threshold,
            "sure_threshold": self.sure_threshold,
        }


_LOCK = threading.Lock()
_LOADED: dict[Path, ReaderModel] = {}


def load_model(path: Path = DEFAULT_READER_PATH) -> ReaderModel:
    """The reader's models from `path`, loaded once per process; a SettingsError when the
    file is missing or not an artifact of this format."""
    with _LOCK:
        if path not in _LOADED:
            _LOADED[path] = _read(path)
        return _LOADED[path]


def _read(path: Path) -> ReaderModel:
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"it holds a JSON {type(data).__name__}, not an object")
        if data.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {ARTIFACT_FORMAT}")
        scorers = {}
        expected_features = (
            ("sentence", SENTENCE_FEATURES),
            ("phrase", PHRASE_FEATURES),
            ("answerable", ANSWER_FEATURES),
        )
        for name, expected in expected_features:
            entry = data[name]
            if tuple(entry["features"]) != expected:
                raise ValueError(f"its {name} model reads other features than this code")
            scorers[name] = Scorer(entry["kind"], tuple(entry["features"]), entry["params"])
        return ReaderModel(
            cross=_cross_route(data.get("cross"), path.parent),
            sentence=scorers["sentence"],
            phrase=scorers["phrase"],
            answerable=scorers["answerable"],
            prior=data["prior"],
            no_answer_threshold=float(data["no_answer_threshold"]),
            short_threshold=float(data["short_threshold"]),
            sure_threshold=float(data.get("sure_threshold", 0.9)),
            version=hashlib.sha256(raw).hexdigest()[:16],
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SettingsError(
            f"cannot load the reader's model from {path} ({error}): rebuild it with "
            "`python -m training`, or point DOCQA_READER_PATH at a model it wrote"
        ) from None


def _cross_route(entry: Any, folder: Path) -> CrossRoute | None:
    """The artifact's cross-encoder route, its model (beside the artifact, else the shipped
    one of that name in rag/models/) loaded on first use; None without one."""
    if entry is None:
        return None
    from rag.cross_encoder import CrossEncoder

    answer = entry["answer"]
    if tuple(answer["features"]) != CROSS_FEATURES:
        raise ValueError("its cross-encoder route reads other features than this code")
    model = folder / entry["model"]
    if not model.is_file():  # an artifact copied elsewhere reads the shipped cross-encoder
        model = DEFAULT_READER_PATH.parent / entry["model"]
    if not model.is_file():
        raise ValueError(f"its cross-encoder {entry['model']} is missing beside it")
    return CrossRoute(
        top_k=int(entry["top_k"]),
        answer=Scorer(answer["kind"], tuple(answer["features"]), answer["params"]),
        model=str(entry["model"]),
        encoder=CrossEncoder(model),
    )


def artifact_version(path: Path) -> str:
    """The digest a model artifact is known by ("missing" when there is none yet)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


def save_model(model: ReaderModel, path: Path) -> None:
    """Write the artifact as compact, stable JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model.to_json(), sort_keys=True) + "\n", encoding="utf-8")
