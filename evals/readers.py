"""Asking through a reader: `--reader extractive` (the default) or `--reader llm`.

`ask` sends one question through `DocQA.stream`, the path the UI and `docqa ask` take, and
times it: seconds to the first token of the model's reply and to the final answer. It counts
the generated sentences the verifier judged and those it dropped, with their reasons. With no
language model the stream is one `Done`, so the extractive reader is timed the same way.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from evals import metrics
from rag import Answer, Settings
from rag.errors import DatasetError

if TYPE_CHECKING:
    from rag.chain import DocQA, History

READERS = ("extractive", "llm")
DEFAULT_READER = "extractive"
# Shown for the llm reader beside the usual metrics (evals.readers.reader_metrics).
READER_METRICS = ("llm_answered", "sentences_dropped", "first_token_p50")
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class Asked:
    """One question's answer through the stream, timed, with the verifier's verdicts."""

    answer: Answer
    seconds: float  # from the question to the final answer
    first_token: float | None  # from the question to the model's first token; None: no token
    sentences: int  # generated sentences the verifier judged
    dropped: int  # of those, dropped as unsupported
    reasons: tuple[str, ...]  # why each dropped sentence was dropped


def ask(docqa: DocQA, question: str, history: History | None = None) -> Asked:
    """Answer `question` through `docqa.stream`, timing the first token and the answer."""
    from rag.types import Done, Token, Verdict  # the stream's events

    started = time.perf_counter()
    first: float | None = None
    verdicts: list[Verdict] = []
    answer: Answer | None = None
    for event in docqa.stream(question, history):
        if isinstance(event, Token):
            if first is None and event.text:
                first = time.perf_counter() - started
        elif isinstance(event, Verdict):
            verdicts.append(event)
        elif isinstance(event, Done):
            answer = event.answer
    seconds = time.perf_counter() - started
    if answer is None:  # the stream's contract: Done is always the last event
        raise RuntimeError("the answer stream ended without its final answer")
    dropped = [verdict for verdict in verdicts if not verdict.kept]
    return Asked(
        answer=answer,
        seconds=seconds,
        first_token=first,
        sentences=len(verdicts),
        dropped=len(dropped),
        reasons=tuple(verdict.reason for verdict in dropped),
    )


def reader_settings(settings: Settings, reader: str) -> list[tuple[str, Settings]]:
    """The readers a run compares, each with its settings: `extractive` alone, or for `llm`
    the extractive reader and then the language model of DOCQA_LLM, side by side.

    Raises DatasetError for `llm` without DOCQA_LLM, or an unknown reader.
    """
    if reader not in READERS:
        raise DatasetError(f"unknown reader {reader!r}: choose from {', '.join(READERS)}")
    extractive = replace(settings, llm="")
    if reader == "extractive":
        return [("extractive", extractive)]
    if not settings.llm:
        raise DatasetError(
            "--reader llm needs a language model: set DOCQA_LLM (ollama:<model>, "
            "openai:<model> with DOCQA_LLM_BASE_URL, gguf:<path> or hf:<folder>)"
        )
    return [("extractive", extractive), ("llm", settings)]


def drop_reasons(reasons: Iterable[str]) -> dict[str, int]:
    """How often each kind of reason for dropping a sentence was given, most frequent first:
    passage numbers as "n", the words a reason lists left out:
    drop_reasons(["cites passage 7 of 3", "words not in the passages it cites: moon"])
    -> {"cites passage n of n": 1, "words not in the passages it cites": 1}."""
    kinds = (_NUMBER.sub("n", reason.split(":")[0]).strip() for reason in reasons)
    counts = Counter(kind or "(no reason given)" for kind in kinds)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def reader_metrics(rows: Sequence[Any]) -> dict[str, float | None]:
    """READER_METRICS over rows asked of the llm reader (evals.scoring.Row, of any
    benchmark: `answered_by`, `first_token`, `sentences`, `dropped`): the share the model
    answered (the rest fell back to the extractive reader), the share of generated sentences
    dropped as unsupported, and the median seconds to the first token."""
    firsts = [row.first_token for row in rows if row.first_token is not None]
    return {
        "llm_answered": metrics.mean(row.answered_by == "llm" for row in rows),
        "sentences_dropped": metrics.ratio(
            sum(row.dropped for row in rows), sum(row.sentences for row in rows)
        ),
        "first_token_p50": metrics.percentile(firsts, 50),
    }
