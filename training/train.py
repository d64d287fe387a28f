"""`python -m training`: fit the reader's models on public QA data and write the artifact.

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
import dataclasses
import hashlib
import pickle
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.squad_data import Article, Gold, SquadQuestion, load_articles, load_split
from rag.answer_types import LABELS
from rag.chain import DocQA
from rag.features import (
    ANSWER_FEATURES,
    CATEGORICAL,
    PHRASE_FEATURES,
    SENTENCE_FEATURES,
    LabelPrior,
    answer_features,
    phrase_features,
    sentence_features,
)
from rag.question import KINDS
from rag.ranker import ReaderModel, Scorer, one_hot, save_model
from rag.reader import judge
from rag.settings import DEFAULT_READER_PATH, PROJECT_ROOT, Settings
from rag.types import Retrieval

DATA = (
    PROJECT_ROOT / "data" / "squad2-train-10-articles.json",
    PROJECT_ROOT / "data" / "squad2-dev-15-articles.json",
)
# The eval suite's question sets whose tune halves join the SQuAD validation articles as the
# domains models and thresholds are chosen on (the worst domain decides); never their
# heldout halves. The calibration set's tune half also trains the answerability model.
DOMAINS = {
    "article": PROJECT_ROOT / "evals" / "questions.toml",
    "second": PROJECT_ROOT / "evals" / "second" / "questions.toml",
    "calibration": PROJECT_ROOT / "data" / "calibration" / "questions.toml",
}
ANSWERABILITY_DOMAINS = ("calibration",)
SPLIT = PROJECT_ROOT / "data" / "split.toml"
CACHE = PROJECT_ROOT / ".cache" / "train"
SEED = 13
MIN_PHRASE_F1 = 0.6  # a phrase this close to the gold answer counts as the answer
MAX_FALSE_REFUSALS = 0.10  # the no-answer threshold refuses at most this share of answerables
# Questions per SQuAD article: all 10,589 take over an hour to retrieve on two cores; this many
# keep every article and its unanswerable questions in play at a quarter of the time.
QUESTIONS_PER_ARTICLE = 120
DOMAIN_WEIGHT = 0.25  # the answerability rows of ANSWERABILITY_DOMAINS, as a share of SQuAD's
MIN_SURE_PRECISION = 0.85  # answers stated plainly are right this often on every domain
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
    domains = {name: domain_examples(name, path, args) for name, path in args.domains.items()}
    print(f"retrieval: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    model, report = fit(examples["train"], examples["validation"], domains, args.model)
    save_model(model, args.out)
    print(report)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


def retrieve(split: str, args: argparse.Namespace) -> list[Example]:
    """Every question of the split's articles through analysis and retrieval (cached)."""
    titles = load_split(args.split)
    articles = [
        _sample(a, args.limit)
        for path in args.data
        for a in load_articles(path)
        if titles.get(a.title) == split
    ]
    settings = Settings.from_env({}, top_k=args.top_k)
    key = _cache_key(articles, settings, split)
    cached = _cached(args, split, key)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(prefix="docqa-train-") as scratch:
        sources = Path(scratch) / "sources"
        sources.mkdir()
        for article in articles:
            (sources / article.file_name).write_text(article.text, encoding="utf-8", newline="")
        engine = DocQA(
            Settings.from_env(
                {},
                source_dir=sources,
                upload_dir=Path(scratch) / "no-uploads",  # the articles alone
                index_dir=Path(scratch) / "index",
                top_k=args.top_k,
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
    _save(args, split, key, examples)
    return examples


def _sample(article: Article, limit: int) -> Article:
    """The article with about `limit` of its questions, spread evenly through it (0: all)."""
    if not limit or len(article.questions) <= limit:
        return article
    stride = len(article.questions) / limit
    kept = tuple(article.questions[int(at * stride)] for at in range(limit))
    return dataclasses.replace(article, questions=kept)


def domain_examples(
    name: str,
    path: Path,
    args: argparse.Namespace,
    keep: Callable[[Any], bool] | None = None,
    folder: Path | None = None,
) -> list[Example]:
    """The tune half (or the questions `keep` selects) of one of the eval suite's question
    sets through analysis and retrieval (cached), with gold spans where each answer stands
    inside its evidence; the documents are in `folder` (else where the set says)."""
    from evals.dataset import evidence_spans, load_questions, read_text

    question_set = load_questions(path)
    folder = folder or question_set.source or _document_folder(path, question_set.documents[0])
    keep = keep or (lambda question: question.split == "tune")
    chosen = [q for q in question_set.questions if keep(q)]
    settings = Settings.from_env({}, top_k=args.top_k)
    digest = hashlib.sha256(path.read_bytes())
    digest.update("".join(q.id for q in chosen).encode())
    for document in question_set.documents:
        digest.update((folder / document).read_bytes())
    key = _cache_key([], settings, name, digest.hexdigest())
    cached = _cached(args, name, key)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(prefix="docqa-train-") as scratch:
        engine = DocQA(
            Settings.from_env(
                {},
                source_dir=folder,
                upload_dir=Path(scratch) / "no-uploads",  # the set's documents alone
                index_dir=Path(scratch) / "index",
                top_k=args.top_k,
            )
        )
        engine.index()
        examples = []
        for question in chosen:
            text = read_text(folder / question.document)
            golds = []
            for start, end in evidence_spans(question, text):
                for answer in question.answers:
                    at = text.find(answer, start, end)
                    if at >= 0:
                        golds.append(Gold(at, at + len(answer), answer))
            gold = SquadQuestion(question.id, question.question, tuple(golds))
            (retrieval, *_rest) = engine.retrieve(question.question, list(question.history))
            examples.append(Example(question.document, gold, retrieval))
    _save(args, name, key, examples)
    return examples


def _document_folder(path: Path, document: str) -> Path:
    """Where a question set without a `source` keeps its document: beside it, or seeds/."""
    beside = path.parent
    return beside if (beside / document).is_file() else Settings().source_dir


def _cached(args: argparse.Namespace, name: str, key: str) -> list[Example] | None:
    """The retrievals cached for `name` under `key`; with --reuse-cache, the newest cached
    for `name` whatever its key (for refitting after a change known not to touch them)."""
    found = args.cache / f"{name}-{key}.pickle"
    if not found.exists() and args.reuse_cache:
        # The key is 12 characters: "calibration-*" would also match calibration-heldout's.
        keyed = args.cache.glob(f"{name}-{'?' * 12}.pickle")
        older = sorted(keyed, key=lambda p: p.stat().st_mtime)
        found = older[-1] if older else found
    return pickle.loads(found.read_bytes()) if found.exists() else None


def _save(args: argparse.Namespace, name: str, key: str, examples: list[Example]) -> None:
    args.cache.mkdir(parents=True, exist_ok=True)
    (args.cache / f"{name}-{key}.pickle").write_bytes(pickle.dumps(examples))


def _cache_key(articles: Sequence[Article], settings: Settings, split: str, seed: str = "") -> str:
    digest = hashlib.sha256(seed.encode())
    for article in articles:
        digest.update(article.text.encode())
        for question in article.questions:
            digest.update(question.question.encode())
    code = [
        PROJECT_ROOT / "rag" / name
        for name in (
            "retrieval.py",
            "answer_types.py",
            "question.py",
            "followups.py",
            "typos.py",
            "lexicon.py",
            "chunking.py",
            "chain.py",
        )
    ]
    for path in code:
        digest.update(path.read_bytes())
    digest.update(f"{settings.top_k}|{settings.chunk_sentences}|{split}".encode())
    return digest.hexdigest()[:12]


# -- labels ----------------------------------------------------------------------------


def sentence_labels(example: Example) -> np.ndarray:
    """1 for each candidate sentence holding a gold answer, else 0."""
    return np.array(
        [
            any(
                c.sentence.start <= g.start and g.end <= c.sentence.end
                for g in example.question.answers
            )
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
    """Feature rows and their labels."""
    rows, labels = [], []
    for example in examples:
        features = sentence_features(example.retrieval.query, example.retrieval.candidates, prior)
        rows.append(features)
        labels.append(sentence_labels(example))
    return np.vstack(rows), np.concatenate(labels)


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


def fit_scorer(
    kind: str,
    rows: np.ndarray,
    labels: np.ndarray,
    features: tuple[str, ...],
    weights: np.ndarray | None = None,
) -> Scorer:
    """A LightGBM or logistic-regression scorer fitted with the fixed seed."""
    if kind == "lightgbm":
        import lightgbm

        categorical = [i for i, name in enumerate(features) if name in CATEGORICAL]
        data = lightgbm.Dataset(
            rows,
            labels,
            weight=weights,
            feature_name=list(features),
            categorical_feature=categorical,
        )
        booster = lightgbm.train({**LIGHTGBM, "seed": SEED}, data, num_boost_round=ROUNDS)
        return Scorer("lightgbm", features, {"model": booster.model_to_string()})
    from sklearn.linear_model import LogisticRegression

    design = one_hot(rows, features)
    mean, scale = design.mean(axis=0), design.std(axis=0) + 1e-6
    fitted = LogisticRegression(C=1.0, max_iter=2000, random_state=SEED)
    fitted.fit((design - mean) / scale, labels, sample_weight=weights)
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
    """What the reader's models do on a set of examples, before thresholds."""

    right: np.ndarray  # per question: the best candidate holds the answer
    confidence: np.ndarray  # per question: the answerability model's probability
    answerable: np.ndarray
    ceiling: np.ndarray  # per question: some candidate holds the answer
    short_f1: np.ndarray  # per question: F1 of the best phrase (0 when there is none)
    phrase_score: np.ndarray  # per question: the phrase model's probability for it

    def top1(self) -> float:
        """Answerable questions whose best candidate holds the answer."""
        return float(self.right[self.answerable].mean())

    def auc(self) -> float:
        """Confidence: answerable against unanswerable questions."""
        return _auc(self.confidence, self.answerable)

    def answered(self, threshold: float) -> float:
        """Answerable questions answered from the right sentence at `threshold`."""
        kept = self.right & (self.confidence >= threshold)
        return float(kept[self.answerable].mean()) if self.answerable.any() else float("nan")

    def refused(self, threshold: float) -> tuple[float, float]:
        """The share of unanswerable and of answerable questions refused at `threshold`."""
        refused = self.confidence < threshold
        unanswerable = refused[~self.answerable].mean() if (~self.answerable).any() else 0.0
        return float(unanswerable), float(refused[self.answerable].mean())


def measure(model: ReaderModel, examples: Sequence[Example]) -> Measured:
    """Run the reader's models (rag.reader.judge) over every example."""
    from evals.metrics import token_f1  # the SQuAD script's definition

    columns: dict[str, list] = {name: [] for name in Measured.__dataclass_fields__}
    for example in examples:
        labels = sentence_labels(example)
        found = example.retrieval.candidates
        if found:
            judged = judge(example.retrieval, model)
            right, confidence = bool(labels[judged.best]), judged.confidence
            f1 = 0.0
            if judged.phrase >= 0 and example.question.answerable:
                chosen = found[judged.best]
                phrase = chosen.phrases[judged.phrase]
                text = chosen.sentence.text[phrase.start : phrase.end]
                f1 = max(token_f1(text, g.text) for g in example.question.answers)
            phrase_score = judged.phrase_score
        else:
            right, confidence, f1, phrase_score = False, 0.0, 0.0, 0.0
        columns["right"].append(right)
        columns["confidence"].append(confidence)
        columns["answerable"].append(example.question.answerable)
        columns["ceiling"].append(bool(labels.any()))
        columns["short_f1"].append(f1)
        columns["phrase_score"].append(phrase_score)
    return Measured(**{name: np.array(values) for name, values in columns.items()})


def no_answer_threshold(measured: Measured) -> float:
    """The highest threshold that refuses at most MAX_FALSE_REFUSALS of answerable questions:
    it refuses as many unanswerable ones as that allows."""
    scores = np.sort(measured.confidence[measured.answerable])
    allowed = int(np.floor(MAX_FALSE_REFUSALS * len(scores)))
    return float(scores[allowed]) if len(scores) else 0.5


def short_threshold(measured: Measured) -> tuple[float, list[str]]:
    """The lowest phrase threshold at which the short answers given to answerable validation
    questions reach a mean F1 of MIN_SHORT_F1, and the table it was read from."""
    answerable = measured.answerable
    scores, f1 = measured.phrase_score[answerable], measured.short_f1[answerable]
    lines = ["short answers on validation (threshold: share given, their mean F1, F1 over all)"]
    chosen = 1.0
    for threshold in np.arange(0.0, 0.95, 0.05):
        shown = scores >= threshold
        if not shown.any():
            continue
        given = f1[shown].mean()
        lines.append(
            f"  {threshold:.2f}: {shown.mean():.3f}, {given:.3f}, {(f1 * shown).mean():.3f}"
        )
        if given >= MIN_SHORT_F1 and threshold < chosen:
            chosen = float(threshold)
    return chosen, lines


def out_of_fold(route: str, train: Sequence[Example], prior: LabelPrior) -> list[np.ndarray]:
    """Each training question's sentence scores from a model fitted without its article, so
    the answerability model learns from scores like those it will meet on new articles."""
    articles = sorted({example.article for example in train})
    scores: list[np.ndarray] = [np.zeros(0)] * len(train)
    for article in articles:
        rest = [example for example in train if example.article != article]
        rows, labels = sentence_table(rest, prior)
        scorer = fit_scorer(route, rows, labels, SENTENCE_FEATURES)
        for at, example in enumerate(train):
            if example.article == article and example.retrieval.candidates:
                query, found = example.retrieval.query, example.retrieval.candidates
                scores[at] = scorer.predict(sentence_features(query, found, prior))
    return scores


def answer_table(train: Sequence[Example], scores: list[np.ndarray], prior: LabelPrior):
    """Confidence rows of the training questions (from out-of-fold sentence scores) and
    whether the sentence those scores choose answers the question: the confidence is the
    probability that the answer given is right, so an unanswerable question and a wrong
    sentence for an answerable one both count against it."""
    rows, labels = [], []
    for example, question_scores in zip(train, scores, strict=True):
        found = example.retrieval.candidates
        if not found:
            continue
        sentence_rows = sentence_features(example.retrieval.query, found, prior)
        rows.append(answer_features(sentence_rows, question_scores))
        labels.append(bool(sentence_labels(example)[int(np.argmax(question_scores))]))
    return np.vstack(rows), np.array(labels, dtype=np.int8)


def fit(
    train: Sequence[Example],
    validation: Sequence[Example],
    domains: dict[str, list[Example]],
    choice: str,
):
    """Fit both routes and keep the one whose worst domain (the SQuAD validation articles
    and each question set's tune half) is best; the no-answer threshold keeps false refusals
    within MAX_FALSE_REFUSALS on every domain. Returns the model and a report."""
    random.seed(SEED)
    np.random.seed(SEED)
    prior = label_prior(train)
    rows, labels = sentence_table(train, prior)
    phrase_rows, phrase_labels = phrase_table(train, prior)
    judged_on = {"squad": list(validation), **domains}
    lines = [
        f"sentence rows: {len(rows):,} ({labels.sum():,} positive); "
        f"phrase rows: {len(phrase_rows):,} ({phrase_labels.sum():,} positive)",
        "baselines, top sentence at no threshold (cosine, BM25): "
        + ", ".join(
            f"{name} {baseline(examples, 'dense'):.3f}, {baseline(examples, 'bm25'):.3f}"
            for name, examples in judged_on.items()
        ),
    ]
    routes = ("lightgbm", "logistic") if choice == "both" else (choice,)
    candidates = {}
    for route in routes:
        sentence = fit_scorer(route, rows, labels, SENTENCE_FEATURES)
        phrase = fit_scorer(route, phrase_rows, phrase_labels, PHRASE_FEATURES)
        answer_rows, answer_labels = answer_table(train, out_of_fold(route, train, prior), prior)
        weights = np.ones(len(answer_labels))
        for name in ANSWERABILITY_DOMAINS:
            if name not in domains:
                continue
            # The sentence model never saw these questions: its scores are out of fold.
            scores = [_scores(sentence, example, prior) for example in domains[name]]
            extra_rows, extra_labels = answer_table(domains[name], scores, prior)
            answer_rows = np.vstack([answer_rows, extra_rows])
            answer_labels = np.concatenate([answer_labels, extra_labels])
            # A few ordinary-document questions weigh as much as a large share of SQuAD's.
            share = DOMAIN_WEIGHT * len(weights) / max(len(extra_labels), 1)
            weights = np.concatenate([weights, np.full(len(extra_labels), share)])
        answerable = fit_scorer(
            "logistic", answer_rows, answer_labels, ANSWER_FEATURES, weights=weights
        )
        model = ReaderModel(sentence, phrase, answerable, prior, 0.0, 0.0, "")
        measured = {name: measure(model, examples) for name, examples in judged_on.items()}
        candidates[route] = (model, measured)
        for name, found in measured.items():
            lines.append(
                f"{route} on {name}: top-1 {found.top1():.3f} (ceiling "
                f"{found.ceiling[found.answerable].mean():.3f}), answerability AUC "
                f"{found.auc():.3f}, best-phrase F1 {found.short_f1[found.answerable].mean():.3f}"
            )
    route = max(candidates, key=lambda name: min(m.top1() for m in candidates[name][1].values()))
    model, measured = candidates[route]
    threshold = min(no_answer_threshold(found) for found in measured.values())
    lines.append(f"chose {route} (best worst-domain top-1); no-answer threshold {threshold:.3f}")
    lines.append("per domain at it: unanswerables refused, answerables refused, answer rate")
    for name, found in measured.items():
        unanswerable, answerable = found.refused(threshold)
        lines.append(
            f"  {name}: {unanswerable:.3f}, {answerable:.3f}, {found.answered(threshold):.3f}"
        )
    lines.append("refusal curve (threshold: per domain unanswerables, answerables refused)")
    for at in np.arange(0.05, 1.0, 0.05):
        cells = ", ".join(
            f"{name} {found.refused(at)[0]:.2f}/{found.refused(at)[1]:.2f}"
            for name, found in measured.items()
        )
        lines.append(f"  {at:.2f}: {cells}")
    sure = sure_threshold(measured.values())
    lines.append(f"sure threshold {sure:.3f} (answers at or above it are stated plainly)")
    short, short_lines = short_threshold(measured["squad"])
    lines += short_lines
    lines.append(f"short-answer threshold {short:.2f}")
    final = ReaderModel(
        model.sentence,
        model.phrase,
        model.answerable,
        {kind: dict(values) for kind, values in prior.items()},
        threshold,
        short,
        "",
        sure,
    )
    return final, "\n".join(lines)


def sure_threshold(measured: Iterable[Measured]) -> float:
    """The lowest confidence at or above which at least MIN_SURE_PRECISION of the answers
    given are right on every domain (1.0 when none reaches it): above it an answer is
    stated plainly, below it the answer says it may be wrong."""
    found = list(measured)
    for at in np.arange(0.3, 1.0, 0.01):
        given = [(m.confidence >= at) for m in found]
        if all(
            not shown.any() or m.right[shown].mean() >= MIN_SURE_PRECISION
            for m, shown in zip(found, given, strict=True)
        ):
            return float(round(at, 2))
    return 1.0


def _scores(scorer: Scorer, example: Example, prior: LabelPrior) -> np.ndarray:
    found = example.retrieval.candidates
    if not found:
        return np.zeros(0)
    return scorer.predict(sentence_features(example.retrieval.query, found, prior))


def baseline(examples: Sequence[Example], score: str) -> float:
    """Answerable questions whose candidate with the best `score` ("dense": MiniLM cosine,
    "bm25") holds the answer: the top sentence of the whole corpus by that score, since the
    candidates include the corpus's best sentences by each."""
    right = []
    for example in examples:
        if not example.question.answerable:
            continue
        found = example.retrieval.candidates
        if not found:
            right.append(False)
            continue
        best = max(range(len(found)), key=lambda at: getattr(found[at], score))
        right.append(bool(sentence_labels(example)[best]))
    return float(np.mean(right)) if right else float("nan")


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The probability that a random positive outscores a random negative."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + ties / 2)


def _domains(value: str) -> dict[str, Path]:
    """--domains "" (none) or "article=evals/questions.toml,...": question sets by name."""
    pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
    return {name.strip(): Path(path.strip()) for name, path in pairs}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, nargs="+", default=list(DATA), help="SQuAD 2.0-format files"
    )
    parser.add_argument("--split", type=Path, default=SPLIT, help="the train/validation split")
    parser.add_argument("--out", type=Path, default=DEFAULT_READER_PATH, help="artifact to write")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where retrievals are cached")
    parser.add_argument(
        "--limit",
        type=int,
        default=QUESTIONS_PER_ARTICLE,
        help="questions per article, spread through it (0: all)",
    )
    parser.add_argument(
        "--reuse-cache",
        action="store_true",
        help="refit on the newest cached retrievals even if the code changed since",
    )
    parser.add_argument("--top-k", type=int, default=Settings().top_k, help="chunks retrieved")
    parser.add_argument(
        "--domains",
        type=_domains,
        default=dict(DOMAINS),
        help="NAME=QUESTIONS.toml,... question sets whose tune halves choose (default: all)",
    )
    parser.add_argument(
        "--model", choices=("both", "lightgbm", "logistic"), default="both", help="routes to fit"
    )
    return parser
