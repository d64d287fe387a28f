"""Plain aligned text tables that fit a terminal: per question, aggregates, comparisons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evals.readers import READER_METRICS, drop_reasons
from evals.scoring import LOWER_IS_BETTER, METRICS, Row

WIDTH = 100  # characters; the tables shrink their widest text columns to fit
GAP = "  "
LABELS = {
    "questions": "questions",
    "pass_rate": "pass rate",
    "recall_at_k": "recall@{k}",
    "mrr": "MRR",
    "answer_accuracy": "answer accuracy",
    "token_f1": "token F1",
    "citation_validity": "citation validity",
    "citation_precision": "citation precision",
    "citation_recall": "citation recall",
    "refusal_accuracy": "refusal accuracy",
    "false_refusal_rate": "false-refusal rate",
    "latency_p50": "latency p50 (s)",
    "latency_p95": "latency p95 (s)",
    "llm_answered": "answered by the LLM",
    "sentences_dropped": "sentences dropped",
    "first_token_p50": "first token p50 (s)",
}


def truncate(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with a trailing "…" when longer."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[bool] | None = None,
    min_widths: Sequence[int] | None = None,
    width: int = WIDTH,
) -> str:
    """An aligned table; the widest columns above their `min_widths` shrink until it fits."""
    right = right or [False] * len(headers)
    min_widths = min_widths or [4] * len(headers)
    rows = [[" ".join(cell.split()) for cell in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    while sum(widths) + len(GAP) * (len(widths) - 1) > width:
        shrinkable = [i for i, w in enumerate(widths) if w > min_widths[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1

    def line(cells: Sequence[str]) -> str:
        parts = [
            truncate(cell, w).rjust(w) if r else truncate(cell, w).ljust(w)
            for cell, w, r in zip(cells, widths, right, strict=True)
        ]
        return GAP.join(parts).rstrip()

    rule = GAP.join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def fmt(value: float | None, metric: str = "") -> str:
    """A metric value for a table: "-" for None, whole numbers plain, others to 3 places."""
    if value is None:
        return "-"
    if metric == "questions":
        return str(int(value))
    return f"{value:.3f}"


def question_table(rows: Sequence[Row]) -> str:
    """One line per question: id, pass/FAIL, gold answers, the answer and its first quote."""
    body = [
        [
            row.id,
            "pass" if row.passed else "FAIL",
            " | ".join(row.answers) if row.answerable else "(abstain)",
            "(abstained)" if row.abstained else row.text,
            row.first_quote or "-",
        ]
        for row in rows
    ]
    id_width = max([2, *(len(row.id) for row in rows)])
    return render(
        ["id", "result", "gold", "answer", "first quote"],
        body,
        min_widths=[id_width, 6, 10, 12, 12],
    )


def label(metric: str, k: int) -> str:
    """The metric's name as shown in tables, e.g. "recall@4"."""
    return LABELS.get(metric, metric).format(k=k)


def aggregate_table(aggregates: Mapping[str, Mapping[str, float | None]], k: int) -> str:
    """Metrics down the side; the given scopes (overall, splits or categories, or the readers
    side by side) across the top. The llm reader's own metrics (READER_METRICS) follow when a
    scope has them."""
    scopes = list(aggregates)
    extra = [m for m in READER_METRICS if any(m in aggregates[s] for s in scopes)]
    body = [
        [label(metric, k), *(fmt(aggregates[s].get(metric), metric) for s in scopes)]
        for metric in (*METRICS, *extra)
    ]
    return render(
        ["metric", *scopes],
        body,
        right=[False, *([True] * len(scopes))],
        min_widths=[18, *([5] * len(scopes))],
    )


def reasons_line(rows: Sequence[Row]) -> str:
    """What the verifier dropped: "12 of 40 generated sentences dropped: no valid citation 9,
    quotation not in passage n 3"."""
    generated = sum(row.sentences for row in rows)
    dropped = sum(row.dropped for row in rows)
    counts = drop_reasons(reason for row in rows for reason in row.drop_reasons)
    why = ", ".join(f"{reason} {count}" for reason, count in counts.items())
    return f"{dropped} of {generated} generated sentences dropped" + (f": {why}" if why else "")


def compare_table(
    old: Mapping[str, Mapping[str, float | None]],
    new: Mapping[str, Mapping[str, float | None]],
    k: int,
) -> str:
    """Every overall metric old → new with its delta; per split or category, only the ones
    that moved."""
    body = []
    unchanged = 0
    for scope in dict.fromkeys([*new, *old]):
        before, after = old.get(scope, {}), new.get(scope, {})
        for metric in METRICS:
            a, b = before.get(metric), after.get(metric)
            delta = None if a is None or b is None else b - a
            if scope != "overall" and a == b:
                unchanged += 1
                continue
            body.append(
                [
                    scope,
                    label(metric, k),
                    fmt(a, metric),
                    fmt(b, metric),
                    _signed(delta, metric),
                    _verdict(delta, metric),
                ]
            )
    table = render(
        ["scope", "metric", "old", "new", "delta", ""],
        body,
        right=[False, False, True, True, True, False],
    )
    if unchanged:
        table += f"\n({unchanged} per-category values unchanged, not shown)"
    return table


def _signed(delta: float | None, metric: str) -> str:
    if delta is None:
        return "-"
    return f"{int(delta):+d}" if metric == "questions" else f"{delta:+.3f}"


def _verdict(delta: float | None, metric: str) -> str:
    if delta is None or abs(delta) < 0.0005 or metric == "questions":  # below the shown precision
        return ""
    better = delta < 0 if metric in LOWER_IS_BETTER else delta > 0
    return "better" if better else "worse"


# -- the SQuAD benchmark (evals.squad): rows system x split, metrics of evals.squad_scoring --

SQUAD_QUALITY = {  # metric -> column header of the first table
    "answerable": "answerable",
    "answer_found": "answer found",
    "span_cited": "span cited",
    "short_em": "short EM",
    "short_f1": "short F1",
    "citation_validity": "valid cites",
}
SQUAD_REFUSAL = {  # ... and of the second
    "unanswerable": "unanswerable",
    "unanswerable_refused": "unans refused",
    "answerable_refused": "ans refused",
    "median_words": "median words",
    "latency_p50_ms": "p50 ms",
}


def squad_tables(figures: Mapping[str, Mapping[str, Mapping[str, float | None]]]) -> str:
    """Two tables, each within WIDTH columns, rows system x split (then overall)."""
    return "\n\n".join(_squad_table(figures, columns) for columns in (SQUAD_QUALITY, SQUAD_REFUSAL))


SQUAD_READER = {  # ... and of the llm reader's own table
    "llm_answered": "by the LLM",
    "sentences_dropped": "sentences dropped",
    "first_token_p50": "first token p50 s",
    "latency_p50_ms": "answer p50 ms",
}


def squad_reader_table(figures: Mapping[str, Mapping[str, Mapping[str, float | None]]]) -> str:
    """The llm reader's own figures, rows system x split for the systems that have them."""
    shown = {
        system: scopes
        for system, scopes in figures.items()
        if any("sentences_dropped" in values for values in scopes.values())
    }
    return _squad_table(shown, SQUAD_READER)


def _squad_table(figures: Mapping, columns: Mapping[str, str]) -> str:
    body = [
        [system, scope, *(_squad_cell(values.get(metric), metric) for metric in columns)]
        for system, scopes in figures.items()
        for scope, values in scopes.items()
    ]
    return render(
        ["system", "split", *columns.values()],
        body,
        right=[False, False, *([True] * len(columns))],
    )


def _squad_cell(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    if metric in ("answerable", "unanswerable"):
        return str(int(value))
    if metric in ("median_words", "latency_p50_ms"):
        return f"{value:.1f}"
    if metric == "first_token_p50":
        return f"{value:.2f}"
    return f"{value:.3f}"


# -- reliability (evals.reliability): rows per split or domain, then the worst ---------------

RELIABILITY = {  # metric -> column header
    "questions": "n",
    "answer_rate": "answer rate",
    "false_refusals": "false ref",
    "refusals": "unans ref",
    "confidently_wrong": "conf wrong",
    "ece": "ECE",
    "wrong_kind_shorts": "wrong kind",
    "bm25_answer_rate": "bm25",
    "cosine_answer_rate": "cosine",
}


def reliability_table(summaries: Mapping[str, Mapping[str, float | None]], first: str) -> str:
    """One row per scope (a split, a domain, "WORST"), RELIABILITY's metrics across; `first`
    heads the scopes' column."""
    body = [
        [scope, *(fmt(values.get(metric), metric) for metric in RELIABILITY)]
        for scope, values in summaries.items()
    ]
    return render(
        [first, *RELIABILITY.values()],
        body,
        right=[False, *([True] * len(RELIABILITY))],
        min_widths=[8, *([4] * len(RELIABILITY))],
    )


RELIABILITY_NOTE = """\
answer rate: answerable questions answered right; false ref: answerable ones refused;
unans ref: unanswerable ones refused; conf wrong: answered wrong at confidence >= 0.9, of
those answered; ECE: calibration error of the confidence (10 bins); wrong kind: short
answers whose label does not fit the question's kind; bm25, cosine: the one-sentence
baselines' answer rate"""
