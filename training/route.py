"""`python -m training route`: fit the cross-encoder's route into the reader's artifact.

The fast sentence model (rag/models/reader.json, fitted by `python -m training`) narrows each
question's candidates to its best few; the cross-encoder (rag/models/cross-encoder.onnx,
fitted by `python -m training cross-encoder` on the training documents) reads the question
with each of them. A small logistic model over what the cross-encoder said
(rag.ranker.CROSS_FEATURES) turns that into the probability that each candidate answers: the
highest chooses the sentence and is the confidence.

The cross-encoder's scores on its own training questions are too sure of themselves, so the
route is fitted on the choose data only: the SQuAD validation articles, the tune halves of the
eval suite's question sets and the ordinary choose documents (data/split.toml). How many
candidates it reads, and both thresholds, are chosen on the worst of those domains. The heldout
halves are measured and reported, never chosen on.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evals.squad_data import load_document_split
from rag.cross_encoder import MODEL_PATH, CrossEncoder, candidate_passage
from rag.features import answer_features, context_columns, cross_features, sentence_features
from rag.ranker import CROSS_FEATURES, CrossRoute, ReaderModel, load_model, save_model
from rag.reader import route_probabilities, shares_a_word, to_read
from rag.settings import DEFAULT_READER_PATH, PROJECT_ROOT, Settings
from training.train import (
    DATA,
    DOMAINS,
    SPLIT,
    Example,
    Measured,
    baseline,
    domain_examples,
    fit_scorer,
    no_answer_threshold,
    retrieve,
    sentence_labels,
    sure_threshold,
)

CACHE = PROJECT_ROOT / ".cache" / "route"
ORDINARY = PROJECT_ROOT / "data" / "ordinary" / "questions.toml"
TOP_KS = (
    2,
    3,
    4,
    6,
    8,
    12,
)  # how many of the fast model's best candidates the cross-encoder may read
READ_AT_MOST = max(TOP_KS)
NEAR = 0.005  # a larger top-k must beat a smaller one's worst-domain top-1 by this much


@dataclasses.dataclass(frozen=True)
class Read:
    """One question as the route sees it: the fast model's scores of its best candidates,
    the cross-encoder's logits for them, which of them answer, and whether any candidate
    does."""

    fast: np.ndarray
    cross: np.ndarray
    labels: np.ndarray
    answerable: bool
    ceiling: bool
    fast_right: bool  # the fast model's best candidate answers (today's route at no threshold)
    sure: float  # the answerability model's confidence in the question
    context: np.ndarray  # the candidates' rag.features.CONTEXT_FEATURES, one row each
    shares_a_word: bool  # some candidate holds a word of the question (rag.reader)


def read_all(
    name: str, examples: Sequence[Example], model: ReaderModel, encoder: CrossEncoder
) -> list[Read]:
    """Each example's best READ_AT_MOST candidates by the fast model, read by the encoder.
    Its logits are cached per question and candidate under the encoder's digest and the
    questions' candidates: refitting the route reads nothing again, a new fast model reads
    only the candidates it newly puts in front, and a change of either reads them afresh."""
    digest = hashlib.sha256(encoder.path.read_bytes())
    digest.update(f"{name}|per-candidate".encode())
    for example in examples:  # the candidates read: a change of retrieval reads them again
        query = example.retrieval.query
        digest.update((query.part or query.standalone).encode())
        digest.update("|".join(c.sentence.id for c in example.retrieval.candidates).encode())
    cached = CACHE / f"reads-{name.replace(' ', '-')}-{digest.hexdigest()[:12]}.pickle"
    logits = pickle.loads(cached.read_bytes()) if cached.exists() else {}
    out = []
    for number, example in enumerate(examples):
        found = example.retrieval.candidates
        labels = sentence_labels(example).astype(bool) if found else np.zeros(0, dtype=bool)
        answerable = example.question.answerable
        if not found:
            empty = np.zeros(0)
            out.append(Read(empty, empty, labels, answerable, False, False, 0.0, empty, False))
            continue
        query = example.retrieval.query
        features = sentence_features(query, found, model.prior)
        fast = model.sentence.predict(features)
        sure = float(model.answerable.predict(answer_features(features, fast))[0])
        top = np.argsort(-fast, kind="stable")[:READ_AT_MOST]
        known = logits.setdefault(number, {})
        unread = [int(at) for at in top if int(at) not in known]
        if unread:
            passages = [candidate_passage(found[at]) for at in unread]
            scores = encoder.logits(query.part or query.standalone, passages)
            known.update(zip(unread, (float(logit) for logit in scores), strict=True))
        out.append(
            Read(
                fast[top],
                np.array([known[int(at)] for at in top]),
                labels[top],
                answerable,
                bool(labels.any()),
                bool(labels[int(np.argmax(fast))]),
                sure,
                context_columns(features)[top],
                shares_a_word(found),
            )
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps(logits))
    return out


def rows(reads: Sequence[Read], top_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The route's training rows over each question's `top_k` candidates, their labels, and
    the question each row belongs to."""
    blocks, labels, owners = [], [], []
    for number, read in enumerate(reads):
        if not len(read.cross):
            continue
        blocks.append(
            cross_features(read.cross[:top_k], read.fast[:top_k], read.sure, read.context[:top_k])
        )
        labels.append(read.labels[:top_k])
        owners.append(np.full(min(top_k, len(read.cross)), number))
    return np.vstack(blocks), np.concatenate(labels).astype(np.int8), np.concatenate(owners)


def measure(route: CrossRoute, reads: Sequence[Read]) -> Measured:
    """What the route does on these questions, before thresholds (train.Measured)."""
    right, confidence = [], []
    for read in reads:
        if not len(read.cross):
            right.append(False)
            confidence.append(0.0)
            continue
        k = len(to_read(read.fast, route.top_k))  # read.fast is best first
        best = 0
        if k > 1:
            probabilities = route_probabilities(
                route, read.cross[:k], read.fast[:k], read.sure, read.context[:k]
            )
            best = int(np.argmax(probabilities))
        right.append(bool(read.labels[best]))
        confidence.append(read.sure if read.shares_a_word else 0.0)
    count = len(reads)
    return Measured(
        right=np.array(right),
        confidence=np.array(confidence),
        answerable=np.array([read.answerable for read in reads]),
        ceiling=np.array([read.ceiling for read in reads]),
        short_f1=np.zeros(count),
        phrase_score=np.zeros(count),
    )


def fit(choose: dict[str, list[Read]], model_file: str) -> tuple[CrossRoute, list[str]]:
    """The route for each top-k, fitted on every choose domain (each weighing the same), and
    the one whose worst domain picks the answering sentence most often."""
    lines = ["top-k: top-1 per choose domain (answerable questions, no threshold)"]
    best: tuple[float, CrossRoute] | None = None
    for top_k in TOP_KS:
        parts = [rows(reads, top_k) for reads in choose.values()]
        design = np.vstack([part[0] for part in parts])
        labels = np.concatenate([part[1] for part in parts])
        weights = np.concatenate([np.full(len(part[1]), 1.0 / len(part[1])) for part in parts])
        weights *= len(weights) / weights.sum()
        answer = fit_scorer("logistic", design, labels, CROSS_FEATURES, weights=weights)
        route = CrossRoute(top_k, answer, model_file)
        top1 = {name: measure(route, reads).top1() for name, reads in choose.items()}
        worst = min(top1.values())
        lines.append(
            f"  {top_k}: " + ", ".join(f"{name} {value:.3f}" for name, value in top1.items())
        )
        if best is None or worst > best[0] + NEAR:
            best = (worst, route)
    assert best is not None
    lines.append(f"chose top-k {best[1].top_k} (worst-domain top-1 {best[0]:.3f})")
    return best[1], lines


def table(
    route: CrossRoute, domains: dict[str, list[Read]], threshold: float, sure: float
) -> list[str]:
    """Per domain: top-1 of today's fast route and of the cross-encoder's, and at the
    operating threshold: answered right, answerables refused, unanswerables refused, and
    wrong answers at confidence >= 0.9 (of those answered)."""
    lines = [
        "| domain | questions | top-1 fast | top-1 cross | answered right | answerables "
        "refused | unanswerables refused | wrong at >= 0.9 | hedged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, reads in domains.items():
        measured = measure(route, reads)
        answerable = measured.answerable
        fast = np.array([read.fast_right for read in reads])
        unanswerable_refused, answerable_refused = measured.refused(threshold)
        given = measured.confidence >= threshold
        sure_wrong = given & (measured.confidence >= 0.9) & ~(measured.right & answerable)
        hedged = given & (measured.confidence < sure)
        lines.append(
            f"| {name} | {len(reads)} | {fast[answerable].mean():.3f} | "
            f"{measured.top1():.3f} | {measured.answered(threshold):.3f} | "
            f"{answerable_refused:.3f} | {unanswerable_refused:.3f} | "
            f"{sure_wrong.sum() / max(given.sum(), 1):.3f} | "
            f"{hedged.sum() / max(given.sum(), 1):.3f} |"
        )
    return lines


def load_domains(args: argparse.Namespace) -> tuple[dict, dict]:
    """The choose domains and the heldout ones, as examples through today's retrieval."""
    choose = {"squad validation": retrieve("validation", args)}
    heldout = {}
    for name, path in DOMAINS.items():
        choose[f"{name} tune"] = domain_examples(f"{name}-tune", path, args)
        heldout[f"{name} heldout"] = domain_examples(
            f"{name}-heldout", path, args, lambda question: question.split == "heldout"
        )
    split_of = load_document_split(args.split, "ordinary")
    choose["ordinary choose"] = domain_examples(
        "ordinary-choose",
        ORDINARY,
        args,
        lambda question: split_of.get(question.document) == "choose",
        folder=ORDINARY.parent / "docs",
    )
    return choose, heldout


def main(argv: list[str] | None = None) -> int:
    """Fit the route, choose its thresholds, write the artifact; print what it measured."""
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    choose_examples, heldout_examples = load_domains(args)
    print(f"retrieval: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    model = load_model(args.reader)
    model = dataclasses.replace(model, cross=None)
    encoder = CrossEncoder(args.cross_encoder, threads=2)
    choose = {
        name: read_all(name, found, model, encoder) for name, found in choose_examples.items()
    }
    heldout = {
        name: read_all(name, found, model, encoder) for name, found in heldout_examples.items()
    }
    print(f"cross-encoder reading: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    route, lines = fit(choose, args.cross_encoder.name)
    measured = {name: measure(route, reads) for name, reads in choose.items()}
    threshold = min(no_answer_threshold(found) for found in measured.values())
    sure = max(sure_threshold(measured.values()), threshold)
    lines.append(f"no-answer threshold {threshold:.3f}, sure threshold {sure:.3f}")
    lines.append(
        "baselines, top sentence at no threshold (cosine, BM25): "
        + ", ".join(
            f"{name} {baseline(examples, 'dense'):.3f}, {baseline(examples, 'bm25'):.3f}"
            for name, examples in {**choose_examples, **heldout_examples}.items()
        )
    )
    lines += table(route, {**choose, **heldout}, threshold, sure)
    final = dataclasses.replace(
        load_model(args.reader), cross=route, no_answer_threshold=threshold, sure_threshold=sure
    )
    save_model(final, args.out)
    print("\n".join(lines))
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training route", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--reader", type=Path, default=DEFAULT_READER_PATH, help="fast models")
    parser.add_argument(
        "--cross-encoder", type=Path, default=MODEL_PATH, help="the cross-encoder (ONNX)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_READER_PATH, help="artifact to write")
    parser.add_argument("--split", type=Path, default=SPLIT, help="the split file")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where retrievals are cached")
    parser.add_argument("--limit", type=int, default=120, help="questions per SQuAD article")
    parser.add_argument("--reuse-cache", action="store_true", help="see python -m training -h")
    parser.add_argument("--top-k", type=int, default=Settings().top_k, help="chunks retrieved")
    parser.add_argument("--data", type=Path, nargs="+", default=list(DATA), help="SQuAD files")
    return parser
