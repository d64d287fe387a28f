"""`python -m rag.train`: fit the reader's models on public QA data and write the artifact.

The training articles (data/split.toml) are indexed and every question runs through the same
analysis and retrieval as at run time, so the models learn from exactly the candidates the
reader sees. Positives are candidate sentences holding a gold answer; every other candidate,
and every candidate of an unanswerable question, is a negative. Phrases inside answering
sentences are positives when they match the gold answer (SQuAD token F1 >= MIN_PHRASE_F1).
Model choice and both thresholds are made on the validation articles, never on the SQuAD dev
set. Retrievals are cached (.cache/train/), so refitting takes seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.answer_types import LABELS
from rag.features import (
    CATEGORICAL,
    PHRASE_FEATURES,
    SENTENCE_FEATURES,
    LabelPrior,
    phrase_features,
    sentence_features,
)
from rag.question import KINDS
from rag.ranker import DEFAULT_MODEL_PATH, ReaderModel, Scorer, one_hot, save_model
from rag.retrieval import Retrieval
from rag.settings import PROJECT_ROOT, Settings
from rag.squad import Article, SquadQuestion, load_articles, load_split

DATA = PROJECT_ROOT / "data" / "squad2-train-10-articles.json"
SPLIT = PROJECT_ROOT / "data" / "split.toml"
CACHE = PROJECT_ROOT / ".cache" / "train"
SEED = 13
MIN_PHRASE_F1 = 0.6  # a phrase this close to the gold answer counts as the answer
MAX_FALSE_REFUSALS = 0.10  # the no-answer threshold refuses at most this share of answerables
MIN_SHORT_F1 = 0.5  # short answers shown must reach this mean F1 on validation
LIGHTGBM = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
}
ROUNDS = 300


@dataclass(frozen=True)
class Example:
    """One question's retrieval and gold answers."""

    article: str
    question: SquadQuestion
    retrieval: Retrieval


def main(argv: list[str] | None = None) -> int:
    """Fit, choose and write the reader's models; prints what it measured."""
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    examples = {split: retrieve(split, args) for split in ("train", "validation")}
    print(f"retrieval: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    model, report = fit(examples["train"], examples["validation"], args.model)
    save_model(model, args.out)
    print(report)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


def retrieve(split: str, args: argparse.Namespace) -> list[Example]:
    """Every question of the split's articles through analysis and retrieval (cached)."""
    from rag.chain import DocQA

    titles = load_split(args.split)
    articles = [a for a in load_articles(args.data) if titles.get(a.title) == split]
    settings = Settings.from_env({}, top_k=args.top_k)
    key = _cache_key(articles, settings, split)
    cached = args.cache / f"{split}-{key}.pickle"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    with tempfile.TemporaryDirectory(prefix="docqa-train-") as scratch:
        sources = Path(scratch) / "sources"
        sources.mkdir()
        for article in articles:
            (sources / article.file_name).write_text(article.text, encoding="utf-8", newline="")
        engine = DocQA(
            Settings.from_env(
                {}, source_dir=sources, index_dir=Path(scratch) / "index", top_k=args.top_k
            )
        )
        engine.index(progress=sys.stderr.isatty())
        examples = []
        for number, (article, question) in enumerate(
            ((a, q) for a in articles for q in a.questions), 1
        ):
            (retrieval, *_rest) = engine.retrieve(question.question)
            examples.append(Example(article.file_name, question, retrieval))
            if number % 500 == 0:
                print(f"{split}: {number} questions retrieved", file=sys.stderr)
    args.cache.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps(examples))
    return examples


def _cache_key(articles: Sequence[Article], settings: Settings, split: str) -> str:
    digest = hashlib.sha256()
    for article in articles:
        digest.update(article.text.encode())
        for question in article.questions:
            digest.update(question.question.encode())
    code = [Path(__file__).with_name(name) for name in ("retrieval.py", "answer_types.py",
                                                          "question.py", "lexicon.py",
                                                          "chunking.py", "chain.py")]
    for path in code:
        digest.update(path.read_bytes())
    digest.update(f"{settings.top_k}|{settings.chunk_sentences}|{split}".encode())
    return digest.hexdigest()[:12]


# -- labels ----------------------------------------------------------------------------


def sentence_labels(example: Example) -> np.ndarray:
    """1 for each candidate sentence holding a gold answer, else 0."""
    return np.array(
        [
            any(c.sentence.start <= g.start and g.end <= c.sentence.end for g in example.question.answers)
            and c.sentence.doc_id == example.article
            for c in example.retrieval.candidates
        ],
        dtype=np.int8,
    )


def phrase_f1(example: Example, candidate_index: int) -> np.ndarray:
    """Each phrase of a candidate's best SQuAD F1 against the gold answers."""
    from evals.metrics import token_f1  # the SQuAD script's definition

    candidate = example.retrieval.candidates[candidate_index]
    text = candidate.sentence.text
    return np.array(
        [
            max(token_f1(text[p.start : p.end], g.text) for g in example.question.answers)
            for p in candidate.phrases
        ]
    )


def label_prior(examples: Sequence[Example]) -> LabelPrior:
    """P(label | kind) from the phrases that match gold answers in the training examples,
    add-one smoothed."""
    counts = {kind: Counter() for kind in KINDS}
    for example in examples:
        labels = sentence_labels(example)
        for index in np.flatnonzero(labels):
            f1 = phrase_f1(example, int(index))
            if len(f1) and f1.max() >= MIN_PHRASE_F1:
                candidate = example.retrieval.candidates[int(index)]
                counts[example.retrieval.query.kind][candidate.phrases[int(f1.argmax())].label] += 1
                break
    return {
        kind: {
            label: (counts[kind][label] + 1) / (sum(counts[kind].values()) + len(LABELS))
            for label in LABELS
        }
        for kind in KINDS
    }


# -- fitting -------------------------------------------------------------------------------


def sentence_table(examples: Sequence[Example], prior: LabelPrior):
    """Feature rows, labels and each row's question number."""
    rows, labels, groups = [], [], []
    for number, example in enumerate(examples):
        features = sentence_features(example.retrieval.query, example.retrieval.candidates, prior)
        rows.append(features)
        labels.append(sentence_labels(example))
        groups.append(np.full(len(features), number))
    return np.vstack(rows), np.concatenate(labels), np.concatenate(groups)


def phrase_table(examples: Sequence[Example], prior: LabelPrior):
    """Phrase rows of every candidate holding a gold answer, labels and F1s."""
    rows, labels = [], []
    for example in examples:
        for index in np.flatnonzero(sentence_labels(example)):
            candidate = example.retrieval.candidates[int(index)]
            features = phrase_features(example.retrieval.query, candidate, prior)
            if len(features):
                rows.append(features)
                labels.append(phrase_f1(example, int(index)) >= MIN_PHRASE_F1)
    return np.vstack(rows), np.concatenate(labels).astype(np.int8)


def fit_scorer(kind: str, rows: np.ndarray, labels: np.ndarray, features: tuple[str, ...]) -> Scorer:
    """A LightGBM or logistic-regression scorer fitted with the fixed seed."""
    if kind == "lightgbm":
        import lightgbm

        categorical = [i for i, name in enumerate(features) if name in CATEGORICAL]
        data = lightgbm.Dataset(
            rows, labels, feature_name=list(features), categorical_feature=categorical
        )
        booster = lightgbm.train({**LIGHTGBM, "seed": SEED}, data, num_boost_round=ROUNDS)
        return Scorer("lightgbm", features, {"model": booster.model_to_string()})
    from sklearn.linear_model import LogisticRegression

    design = one_hot(rows, features)
    mean, scale = design.mean(axis=0), design.std(axis=0) + 1e-6
    fitted = LogisticRegression(C=1.0, max_iter=2000, random_state=SEED)
    fitted.fit((design - mean) / scale, labels)
    return Scorer(
        "logistic",
        features,
        {
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "coef": fitted.coef_[0].tolist(),
            "intercept": float(fitted.intercept_[0]),
        },
    )


@dataclass(frozen=True)
class Measured:
    """What a sentence model does on the validation articles."""

    top1: float  # answerable questions whose best candidate holds the answer
    ceiling: float  # answerable questions with a positive among the candidates
    auc: float  # best score: answerable vs unanswerable
    best: np.ndarray  # per question: the best candidate's probability
    right: np.ndarray  # per question: whether the best candidate holds the answer
    answerable: np.ndarray


def measure(scorer: Scorer, examples: Sequence[Example], prior: LabelPrior) -> Measured:
    """Top-1 accuracy, the candidates' ceiling and answerability AUC on `examples`."""
    best, right, answerable, ceiling = [], [], [], []
    for example in examples:
        labels = sentence_labels(example)
        features = sentence_features(example.retrieval.query, example.retrieval.candidates, prior)
        scores = scorer.predict(features)
        top = int(np.argmax(scores)) if len(scores) else -1
        best.append(float(scores[top]) if len(scores) else 0.0)
        right.append(bool(len(scores)) and bool(labels[top]))
        answerable.append(example.question.answerable)
        ceiling.append(bool(labels.any()))
    best_a, right_a, answerable_a = np.array(best), np.array(right), np.array(answerable)
    return Measured(
        top1=float(right_a[answerable_a].mean()),
        ceiling=float(np.array(ceiling)[answerable_a].mean()),
        auc=_auc(best_a, answerable_a),
        best=best_a,
        right=right_a,
        answerable=answerable_a,
    )


def no_answer_threshold(measured: Measured) -> float:
    """The highest threshold that refuses at most MAX_FALSE_REFUSALS of answerable questions:
    it refuses as many unanswerable ones as that allows."""
    scores = np.sort(measured.best[measured.answerable])
    allowed = int(np.floor(MAX_FALSE_REFUSALS * len(scores)))
    return float(scores[allowed]) if len(scores) else 0.5


def short_threshold(
    phrase: Scorer, examples: Sequence[Example], sentence: Scorer, prior: LabelPrior
) -> tuple[float, list[str]]:
    """The lowest phrase threshold at which the short answers given on validation reach a
    mean F1 of MIN_SHORT_F1 (end to end: the phrase of the chosen sentence), and a report."""
    from evals.metrics import token_f1

    given = []  # (best phrase score, F1) per answerable validation question
    for example in examples:
        if not example.question.answerable or not example.retrieval.candidates:
            continue
        query, found = example.retrieval.query, example.retrieval.candidates
        scores = sentence.predict(sentence_features(query, found, prior))
        chosen = found[int(np.argmax(scores))]
        rows = phrase_features(query, chosen, prior)
        if not len(rows):
            given.append((0.0, 0.0))
            continue
        phrase_scores = phrase.predict(rows)
        best = int(np.argmax(phrase_scores))
        p = chosen.phrases[best]
        text = chosen.sentence.text[p.start : p.end]
        f1 = max(token_f1(text, g.text) for g in example.question.answers)
        given.append((float(phrase_scores[best]), f1))
    pairs = np.array(given)
    lines = ["short answers on validation (threshold: given, mean F1 of given, F1 over all):"]
    chosen_threshold = 1.0
    for threshold in np.arange(0.0, 0.95, 0.05):
        shown = pairs[:, 0] >= threshold
        if not shown.any():
            continue
        mean_given = pairs[shown, 1].mean()
        overall = (pairs[:, 1] * shown).mean()
        lines.append(f"  {threshold:.2f}: {shown.mean():.3f}, {mean_given:.3f}, {overall:.3f}")
        if mean_given >= MIN_SHORT_F1 and threshold < chosen_threshold:
            chosen_threshold = float(threshold)
    return chosen_threshold, lines


def fit(train: Sequence[Example], validation: Sequence[Example], choice: str):
    """Fit both routes, keep the better on validation; returns the model and a report."""
    random.seed(SEED)
    np.random.seed(SEED)
    prior = label_prior(train)
    rows, labels, _groups = sentence_table(train, prior)
    lines = [f"sentence rows: {len(rows):,} ({labels.sum():,} positive)"]
    routes = ("lightgbm", "logistic") if choice == "both" else (choice,)
    fitted = {}
    for route in routes:
        scorer = fit_scorer(route, rows, labels, SENTENCE_FEATURES)
        measured = measure(scorer, validation, prior)
        fitted[route] = (scorer, measured)
        lines.append(
            f"{route}: validation top-1 {measured.top1:.3f} (ceiling {measured.ceiling:.3f}), "
            f"answerability AUC {measured.auc:.3f}"
        )
    route = max(fitted, key=lambda name: fitted[name][1].top1)
    sentence, measured = fitted[route]
    threshold = no_answer_threshold(measured)
    refused = measured.best < threshold
    lines.append(
        f"chose {route}; no-answer threshold {threshold:.3f}: refuses "
        f"{refused[~measured.answerable].mean() if (~measured.answerable).any() else 0:.3f} "
        f"of unanswerables, {refused[measured.answerable].mean():.3f} of answerables"
    )
    lines.append("refusal curve (threshold: unanswerables refused, answerables refused):")
    for quantile in np.arange(0.0, 0.55, 0.05):
        at = float(np.quantile(measured.best[measured.answerable], quantile))
        refused = measured.best < at
        lines.append(
            f"  {at:.3f}: {refused[~measured.answerable].mean():.3f}, "
            f"{refused[measured.answerable].mean():.3f}"
        )
    phrase_rows, phrase_labels = phrase_table(train, prior)
    lines.append(f"phrase rows: {len(phrase_rows):,} ({phrase_labels.sum():,} positive)")
    phrase = fit_scorer(route, phrase_rows, phrase_labels, PHRASE_FEATURES)
    short, short_lines = short_threshold(phrase, validation, sentence, prior)
    lines += short_lines
    lines.append(f"short-answer threshold {short:.2f}")
    model = ReaderModel(sentence, phrase, {k: dict(v) for k, v in prior.items()}, threshold, short, "")
    return model, "\n".join(lines)


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The probability that a random positive outscores a random negative."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + ties / 2)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag.train", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="SQuAD 2.0-format training file")
    parser.add_argument("--split", type=Path, default=SPLIT, help="the train/validation split")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH, help="artifact to write")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where retrievals are cached")
    parser.add_argument("--top-k", type=int, default=Settings().top_k, help="chunks retrieved")
    parser.add_argument(
        "--model", choices=("both", "lightgbm", "logistic"), default="both", help="routes to fit"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
