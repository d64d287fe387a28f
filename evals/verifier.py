"""`python -m evals --verifier FILE`: the answer verifier measured on hand-labelled replies.

Each line of FILE (data/verifier/replies.jsonl, see its README) is one question, the numbered
passages docqa showed a language model for it, and one reply, each sentence labelled faithful or
not and with its kind. Every sentence is judged by `rag.generation.verify` against its reply's
passages (rebuilt as spans of the documents), and the report gives the share of faithful
sentences kept, of unfaithful ones dropped, of replies whose answer survives (a faithful
sentence kept and no unfaithful one), and a table per kind with the reasons for dropping.

The replies are split in two halves by a hash of their id (`half`): `choose`, the half any
decision about the verifier is made on, and `check`, the half that only reports.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.readers import drop_reasons
from evals.tables import render
from rag.errors import DatasetError
from rag.types import Document, Span, Verdict

ROOT = Path(__file__).resolve().parent.parent
# Where the documents a reply's passages name are looked for, after the file's own folder.
DOCUMENT_FOLDERS = (
    ROOT / "seeds",
    ROOT / "data" / "calibration" / "docs",
    ROOT / "data" / "ordinary" / "docs",
)
HALVES = ("choose", "check")
REFUSAL_KIND = "refusal"  # faithful, but not an answer: counted apart


@dataclass(frozen=True)
class Labelled:
    """One sentence of a reply, as the model wrote it, with its hand label."""

    text: str
    supported: bool
    kind: str


@dataclass(frozen=True)
class Reply:
    """One question, the passages the model was shown (numbered from 1) and its reply."""

    id: str
    question: str
    style: str
    passages: tuple[Span, ...]
    sentences: tuple[Labelled, ...]


@dataclass(frozen=True)
class Judged:
    """One labelled sentence and the verifier's verdict on it."""

    reply: str  # the reply's id
    labelled: Labelled
    verdict: Verdict


def half(reply_id: str) -> str:
    """The half a reply belongs to, fixed by its id: half("t01") is always the same."""
    return HALVES[hashlib.sha1(reply_id.encode("utf-8")).digest()[0] % 2]


def load(path: Path, folders: Sequence[Path] = DOCUMENT_FOLDERS) -> tuple[list[Reply], dict]:
    """The replies of a labelled file and the documents their passages are spans of, looked up
    by name (next to the file, then in `folders`), else as the one file there whose text holds
    every passage at its offsets (a document renamed since the file was written)."""
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]
    except (OSError, ValueError) as error:
        raise DatasetError(f"cannot read the labelled replies in {path}: {error}") from None
    texts = _texts([path.parent, *folders])
    documents: dict[str, Document] = {}
    replies = []
    for record in records:
        spans = []
        for passage in record["passages"]:
            doc_id = passage["doc_id"]
            if doc_id not in documents:
                documents[doc_id] = Document(doc_id, _find(doc_id, records, texts))
            text = documents[doc_id].text
            spans.append(
                Span(
                    doc_id,
                    passage["start"],
                    passage["end"],
                    text[passage["start"] : passage["end"]],
                )
            )
        sentences = tuple(
            Labelled(s["text"], bool(s["supported"]), s["kind"]) for s in record["sentences"]
        )
        replies.append(
            Reply(
                record["id"], record["question"], record.get("style", ""), tuple(spans), sentences
            )
        )
    return replies, documents


def _texts(folders: Iterable[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in folders:
        for file in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if file.suffix in (".txt", ".md") and file.is_file():
                with file.open(encoding="utf-8", newline="") as handle:  # newlines as they are
                    found.setdefault(file.name, handle.read())
    return found


def _find(doc_id: str, records: Sequence[dict], texts: Mapping[str, str]) -> str:
    if doc_id in texts:
        return texts[doc_id]
    wanted = [p for r in records for p in r["passages"] if p["doc_id"] == doc_id]
    holding = [
        text
        for text in texts.values()
        if all(text[p["start"] : p["end"]] == p["text"] for p in wanted)
    ]
    if len(holding) != 1:
        raise DatasetError(f"no document {doc_id!r} next to the labelled replies or in seeds/")
    return holding[0]


def judge(replies: Sequence[Reply], documents: Mapping[str, Document]) -> list[Judged]:
    """Every labelled sentence with `rag.generation.verify`'s verdict on it."""
    from rag.generation import verify

    judged: list[Judged] = []
    for reply in replies:
        previous = None  # the verdict on the reply's sentence before
        for labelled in reply.sentences:
            previous = verify(
                labelled.text,
                reply.passages,
                documents,
                question=reply.question,
                previous=previous,
            )
            judged.append(Judged(reply.id, labelled, previous))
    return judged


def scores(judged: Sequence[Judged]) -> dict[str, float | int]:
    """faithful kept, unfaithful dropped (shares and counts), answers surviving (share of
    replies with a faithful non-refusal sentence: one kept and no unfaithful one kept)."""
    faithful = [j for j in judged if j.labelled.supported and j.labelled.kind != REFUSAL_KIND]
    unfaithful = [j for j in judged if not j.labelled.supported]
    by_reply: dict[str, list[Judged]] = {}
    for j in judged:
        by_reply.setdefault(j.reply, []).append(j)
    answering = [
        mine
        for mine in by_reply.values()
        if any(j.labelled.supported and j.labelled.kind != REFUSAL_KIND for j in mine)
    ]
    surviving = [
        mine
        for mine in answering
        if any(j.verdict.kept and j in faithful for j in mine)
        and not any(j.verdict.kept and not j.labelled.supported for j in mine)
    ]
    kept = sum(j.verdict.kept for j in faithful)
    dropped = sum(not j.verdict.kept for j in unfaithful)
    return {
        "faithful": len(faithful),
        "faithful_kept": kept,
        "unfaithful": len(unfaithful),
        "unfaithful_dropped": dropped,
        "answers": len(answering),
        "answers_surviving": len(surviving),
    }


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%} ({part} of {whole})" if whole else "-"


def scores_table(by_scope: Mapping[str, Mapping[str, float | int]]) -> str:
    """The three measures down the side, the scopes (whole, choose, check) across."""
    rows = [
        [
            "faithful sentences kept",
            *(_share(s["faithful_kept"], s["faithful"]) for s in by_scope.values()),
        ],
        [
            "unfaithful sentences dropped",
            *(_share(s["unfaithful_dropped"], s["unfaithful"]) for s in by_scope.values()),
        ],
        [
            "answers surviving",
            *(_share(s["answers_surviving"], s["answers"]) for s in by_scope.values()),
        ],
    ]
    return render(["", *by_scope], rows, right=[False, *([True] * len(by_scope))])


def kinds_table(judged: Sequence[Judged]) -> str:
    """One row per kind: faithful or not, how many, how many kept, and the drop reasons."""
    kinds: dict[tuple[bool, str], list[Judged]] = {}
    for j in judged:
        kinds.setdefault((not j.labelled.supported, j.labelled.kind), []).append(j)
    rows = []
    for (unfaithful, kind), mine in sorted(kinds.items()):
        reasons = drop_reasons(j.verdict.reason for j in mine if not j.verdict.kept)
        rows.append(
            [
                kind,
                "unfaithful" if unfaithful else "faithful",
                str(len(mine)),
                str(sum(j.verdict.kept for j in mine)),
                "; ".join(f"{reason} {count}" for reason, count in reasons.items()) or "-",
            ]
        )
    return render(
        ["kind", "label", "n", "kept", "drop reasons"],
        rows,
        right=[False, False, True, True, False],
        min_widths=[15, 10, 3, 4, 30],
        width=160,
    )


def run(path: Path, show_sentences: bool = False) -> int:
    """Judge every sentence of the file and print the tables (and with `show_sentences`, each
    sentence of the choose half with its verdict); returns the exit status."""
    replies, documents = load(path)
    clock = time.perf_counter()
    judged = judge(replies, documents)
    seconds = time.perf_counter() - clock
    by_half = {name: [j for j in judged if half(j.reply) == name] for name in HALVES}
    sizes = ", ".join(f"{name} {len({j.reply for j in by_half[name]})}" for name in HALVES)
    print(
        f"docqa eval --verifier: {len(replies)} replies ({sizes}), {len(judged)} sentences "
        f"from {path}; verified in {seconds:.1f} s"
    )
    print()
    print(scores_table({"whole": scores(judged), **{n: scores(by_half[n]) for n in HALVES}}))
    for scope, mine in [("whole", judged), *by_half.items()]:
        print(f"\nper kind ({scope}):")
        print(kinds_table(mine))
    if show_sentences:
        print()
        for j in by_half["choose"]:  # the check half is never read sentence by sentence
            right = j.verdict.kept == j.labelled.supported
            mark = "ok " if right else "BAD"
            print(
                f"{mark} {half(j.reply):6} {j.reply:5} {j.labelled.kind:17} "
                f"{'kept' if j.verdict.kept else 'drop'} {j.labelled.text}"
                + ("" if j.verdict.kept else f"  <- {j.verdict.reason}")
            )
    return 0
