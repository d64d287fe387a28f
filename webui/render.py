"""Pure presentation: every string the page shows is built here from engine records, with the
documents' and users' text escaped first. Nothing here touches gradio, the engine or a file."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise

from rag.documents import Skipped, describe_skipped
from rag.presentation import (
    CLOSING_MARKS,
    HEDGE,
    OPENING_MARKS,
    collection_name,
    dropped_note,
    refusal,
    without_bidi,
)
from rag.types import Answer, Citation, Document

STREAM_STEPS = 24  # at most this many partial updates while an answer streams in
SHOWN_QUESTION_CHARS = 300  # an over-long question is shown cut to this length
CONTEXT_WORDS = 6  # words of the source shown either side of a quote under its answer
ABSTAIN_MARK = "⊘"  # plain symbols that common text fonts hold: no emoji font is needed
ERROR_MARK = "⚠"
READY_MARK = "✓"
HIGHLIGHT_COLOURS = ("#fde68a", "#a7f3d0", "#bfdbfe", "#fbcfe8", "#ddd6fe", "#fed7aa")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
_MARKDOWN_MARK = re.compile(r" {0,3}#{1,6}[ \t]+")
_SPACE = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MARKDOWN_NAMES = (".md", ".markdown")


def escape(text: str) -> str:
    """Text shown literally by the Markdown chat: escape("<b>*x*</b>") has no tag, no emphasis."""
    return html.escape(_MARKDOWN_SPECIALS.sub(r"\\\1", without_bidi(text)), quote=False)


def escape_html(text: str) -> str:
    """Text shown literally in an HTML element (no Markdown there, so no backslashes):
    escape_html("my-docs <b>") -> "my-docs &lt;b&gt;"."""
    return html.escape(without_bidi(text), quote=False)


def shown_rows(rows: list[list[str]]) -> list[list[str]]:
    """The documents table as shown: each name with its bidirectional controls as escapes."""
    return [[without_bidi(name), *rest] for name, *rest in rows]


def name_choices(names: list[str]) -> list[tuple[str, str]]:
    """(label, value) choices of file names: the label escaped (`without_bidi`), the value the
    name itself, so choosing it acts on the real file."""
    return [(without_bidi(name), name) for name in names]


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate (which has no UTF-8 form, so the page could not be sent
    it) as U+FFFD: without_surrogates("a\\ud800b") -> "a\\ufffdb"."""
    return _SURROGATE.sub("\ufffd", text)


def shown_question(message: str) -> str:
    """The user's message as the chat shows it: escaped, and cut when it is very long."""
    if len(message) <= SHOWN_QUESTION_CHARS:
        return escape(message)
    return escape(message[:SHOWN_QUESTION_CHARS]) + "…"


def intro(documents: Mapping[str, Document]) -> str:
    """The page's heading and how to use it, naming what it answers from."""
    return (
        "# docqa: ask the documents\n"
        f"Ask a question about {escape(collection_name(documents))}. The direct answer comes "
        "first, in bold, then the words of the source that support it, each numbered; click a "
        "number or a quote to see it highlighted in the source view. When the source does "
        "not say, docqa tells you so instead of guessing. Follow-up questions can refer to "
        "earlier ones."
    )


def placeholder(documents: Mapping[str, Document]) -> str:
    """The question box's hint: "Ask about the documents… (Enter to send)"."""
    return f"Ask about {collection_name(documents)}… (Enter to send)"


def format_answer(
    result: Answer,
    turn: int,
    documents: Mapping[str, Document] | None = None,
    dropped_reasons: Sequence[str] = (),
) -> str:
    """The chat message for an answer: the short answer in bold (a language model's answer:
    its verified sentences, each [n] clickable), then each quote as a clickable "[n]" with a
    few words of context and its place (document, page, characters); then a short note on
    generated sentences dropped (`dropped_reasons`: why, as the stream's verdicts said) and
    why the extractive reader answered, when a language model was asked.

    `turn` numbers the exchange, so a click on [n] can find this answer's citations.
    """
    notes = answer_notes(result, dropped_reasons)
    if result.abstained:
        return "\n\n".join([format_abstention(refusal(result.question, documents or {})), *notes])
    # What the copy button copies (the page's script reads it): the answer as plain text.
    plain = html.escape(result.as_text(documents or {}), quote=False)
    copied = f"<pre class='copy-text'>{plain}</pre>"
    parts = []
    if result.reader == "llm":
        parts.append(cited_text(result.text, turn, len(result.citations)))
    if result.hedged:  # a middling confidence says so before the answer
        parts.append(f"<em class='hedge'>{escape(HEDGE.strip())}</em>")
    if result.short is not None:
        short = result.short.quote
        parts.append(f"<strong class='short'>{escape(short[:1].upper() + short[1:])}</strong>")
    for number, citation in enumerate(result.citations, 1):
        document = (documents or {}).get(citation.doc_id)
        before, after = context(document.text, citation) if document else ("", "")
        parts.append(
            f"{_citation_number(turn, number)} <span class='context'>{escape(before)}</span>"
            f"<q class='{quote_class(citation.quote)}'>{escape(citation.quote)}</q>"
            f"<span class='context'>{escape(after)}</span></span>\n"
            f"<small class='quote-place'>({place(citation)})</small>"
        )
    return "\n\n".join([*parts, *notes, copied])


_MARKER = re.compile(r"\[(\d+)\]")


def cited_text(text: str, turn: int, citations: int) -> str:
    """A language model's verified sentences, escaped, each "[n]" (1 ≤ n ≤ `citations`) a
    clickable citation of answer `turn`, as the quotes under it are."""
    out, cursor = [], 0
    for found in _MARKER.finditer(text):
        number = int(found.group(1))
        if not 1 <= number <= citations:
            continue
        out.append(escape(text[cursor : found.start()]))
        out.append(f"{_citation_number(turn, number)}</span>")
        cursor = found.end()
    out.append(escape(text[cursor:]))
    return f"<span class='generated'>{''.join(out)}</span>"


def _citation_number(turn: int, number: int) -> str:
    """The opening of citation `number` of answer `turn`, a click target, and its "[n]"."""
    return (
        f"<span class='cite turn-{turn} n-{number}' title='Show in the source'>"
        f"<b class='cite-n'>\\[{number}\\]</b>"
    )


def _note(text: str) -> str:
    """A short grey note under an answer."""
    return f"<small class='answer-note'>{escape(text)}</small>"


def answer_notes(result: Answer, dropped_reasons: Sequence[str] = ()) -> list[str]:
    """Short grey notes under an answer: the generated sentences dropped and why, and why
    the extractive reader answered instead of the language model; none without either."""
    notes = []
    if result.dropped:
        reasons = [*dropped_reasons][: result.dropped]
        reasons += [""] * (result.dropped - len(reasons))
        notes.append(_note(dropped_note(reasons)))
    if result.note:
        notes.append(_note(result.note[:1].upper() + result.note[1:]))
    return notes


_DRAFTING = "Writing; each sentence is checked against the source…"
_CHECKED = "Checked against the source so far:"


class Draft:
    """A language model's reply as it streams in: its tokens, then the verifier's verdicts.
    `shown()` is the bubble's content: the draft, marked as not yet checked; once verdicts
    come, the sentences kept (their markers left for the final answer to number), what is
    still being written after them, and a note on each sentence dropped."""

    def __init__(self) -> None:
        self.text = ""
        self.kept: list[str] = []
        self.dropped_reasons: list[str] = []
        self._cursor = 0  # where the reply not yet judged begins
        self.streamed = False  # a token or verdict came: a language model is answering

    def add_token(self, text: str) -> None:
        """A piece of the reply."""
        self.text += text
        self.streamed = True

    def add_verdict(self, verdict: object) -> None:
        """A sentence judged (rag.generation.Verdict: sentence, kept, reason)."""
        sentence = getattr(verdict, "sentence", "")
        if getattr(verdict, "kept", False):
            self.kept.append(_MARKER.sub("", sentence).strip())
        else:
            self.dropped_reasons.append(getattr(verdict, "reason", ""))
        found = self.text.find(sentence.strip(), self._cursor) if sentence.strip() else -1
        if found >= 0:
            self._cursor = found + len(sentence.strip())
        self.streamed = True

    def shown(self) -> str:
        """The bubble's content now (Markdown, escaped)."""
        if not self.kept and not self.dropped_reasons:
            return f"<small class='drafting'>{_DRAFTING}</small>\n\n{escape(self.text)}"
        judged = self.kept and " ".join(self.kept)
        rest = self.text[self._cursor :].strip()
        parts = [f"<small class='drafting'>{_CHECKED}</small>"]
        if judged:
            parts.append(escape(judged) + (f" {escape(rest)}" if rest else ""))
        elif rest:
            parts.append(escape(rest))
        if self.dropped_reasons:
            parts.append(_note(dropped_note(self.dropped_reasons)))
        return "\n\n".join(parts)


def quote_class(quote: str) -> str:
    """The classes of a quote's <q>: one that already starts (or ends) with a quotation mark
    gets no second one from the browser."""
    classes = ["quote"]
    if quote[:1] in OPENING_MARKS:
        classes.append("opens-quoted")
    if quote[-1:] in CLOSING_MARKS:
        classes.append("closes-quoted")
    return " ".join(classes)


def place(citation: Citation) -> str:
    """Where a quote is, escaped: "report.pdf, page 3, characters 120–180"."""
    page = f", page {citation.page}" if citation.page else ""
    return f"{escape(citation.doc_id)}{page}, characters {citation.start}–{citation.end}"


def context(text: str, citation: Citation, words: int = CONTEXT_WORDS) -> tuple[str, str]:
    """A few words of `text` before and after the quote, with "…" where more text goes on.

    context("a b c QUOTE d e", Citation("d", 6, 11, "QUOTE"), 2) -> ("…b c ", " d e")
    """
    before = re.findall(r"\S+\s*", text[: citation.start])
    after = re.findall(r"\s*\S+", text[citation.end :])
    lead = _SPACE.sub(" ", "".join(before[-words:])) if words else ""
    tail = _SPACE.sub(" ", "".join(after[:words])) if words else ""
    return ("…" if len(before) > words else "") + lead, tail + ("…" if len(after) > words else "")


def format_abstention(text: str) -> str:
    """An abstention looks different from an answer: a mark and italics, no quotes."""
    return f"<span class='abstained'>{ABSTAIN_MARK} {escape(text)}</span>"


def format_error(message: str) -> str:
    """A friendly error line: a warning mark and the message, first letter capitalised."""
    message = message[:1].upper() + message[1:]
    if not message.endswith((".", "!", "?")):
        message += "."
    return f"<span class='failed'>{ERROR_MARK} {escape(message)}</span>"


def stream_prefixes(text: str, steps: int = STREAM_STEPS) -> Iterator[str]:
    """Growing prefixes of `text`, ending with all of it; cut at word boundaries."""
    words = re.findall(r"\S+\s*", text)
    stride = max(1, -(-len(words) // steps))  # ceiling division
    for end in range(stride, len(words) + stride, stride):
        yield "".join(words[:end])


def numbered_spans(citations: Sequence[Citation], doc_id: str) -> list[tuple[int, int, int]]:
    """(start, end, n) of the citations in `doc_id`, in text order, overlaps cut off.

    Numbers follow the answer's citations, so they match the chat even across documents:
    numbered_spans([Citation("a", 0, 2, "ab"), Citation("b", 3, 5, "cd")], "b") -> [(3, 5, 2)]
    """
    spans = []
    cursor = 0
    ordered = sorted(
        (citation.start, citation.end, number)
        for number, citation in enumerate(citations, 1)
        if citation.doc_id == doc_id
    )
    for start, end, number in ordered:
        start = max(start, cursor)  # subtle: overlapping spans keep the earlier number
        if start < end:
            spans.append((start, end, number))
            cursor = end
    return spans


def source_html(
    document: Document, citations: Sequence[Citation] = (), turn: int = -1, focus: int = 1
) -> str:
    """The source view: a line naming the document, then its text, escaped, with each cited
    span in a numbered <mark>, headings set as headings (a Markdown file's "#" marks hidden)
    and PDF pages marked.

    `data-focus` names the span the page scrolls into view; `data-turn` the answer whose
    citations are highlighted (-1: none).
    """
    text = document.text
    spans = numbered_spans(citations, document.doc_id)
    headings = list(document.headings)
    pages = list(document.pages[1:]) if len(document.pages) > 1 else []
    cuts = {0, len(text)}
    for start, end, _ in spans:
        cuts.update((start, end))
    for start, end in headings:
        cuts.update((start, end))
    cuts.update(pages)
    markdown = document.doc_id.lower().endswith(_MARKDOWN_NAMES)
    heading_starts = {start for start, _ in headings}
    opened = {start: number for start, _, number in spans}
    closed = {end for _, end, _ in spans}
    name = html.escape(document.doc_id, quote=False)
    pages_note = f", {len(document.pages)} pages" if len(document.pages) > 1 else ""
    out = [
        f"<div class='source-head'>Source: <span class='source-name'>{name}</span>"
        f"{pages_note}</div>",
        f"<div class='source-view' data-doc='{html.escape(document.doc_id, quote=True)}' "
        f"data-turn='{turn}' data-focus='{focus}' tabindex='0'>",
    ]
    bounds = sorted(cut for cut in cuts if 0 <= cut <= len(text))
    for start, end in pairwise(bounds):
        if start in pages:
            page = pages.index(start) + 2
            out.append(f"<span class='page-mark' data-page='{page}'>page {page}</span>")
        if start in opened:
            number = opened[start]
            colour = HIGHLIGHT_COLOURS[(number - 1) % len(HIGHLIGHT_COLOURS)]
            out.append(
                f"<mark class='highlighted' data-n='{number}' style='background:{colour}'>"
                "<span class='text'>"
            )
        piece = text[start:end]
        if any(h_start <= start < h_end for h_start, h_end in headings):
            mark = ""
            if markdown and start in heading_starts:
                found = _MARKDOWN_MARK.match(piece)
                if found:
                    mark = f"<span class='md-mark'>{html.escape(found.group())}</span>"
                    piece = piece[found.end() :]
            out.append(f"<span class='heading'>{mark}{html.escape(piece)}</span>")
        else:
            out.append(html.escape(piece))
        if end in closed:
            number = next(n for _, e, n in spans if e == end)
            out.append(f"</span><span class='label'>[{number}]</span></mark>")
    out.append("</div>")
    return "".join(out)


def gone_html(doc_id: str, turn: int = -1) -> str:
    """The source view for a cited document that is no longer indexed: it says so, and shows
    no other document's text in its place."""
    name = html.escape(doc_id, quote=False)
    return (
        f"<div class='source-head'>Source: <span class='source-name'>{name}</span></div>"
        f"<div class='source-view source-gone' data-doc='{html.escape(doc_id, quote=True)}' "
        f"data-turn='{turn}' data-focus='0' tabindex='0'>{ERROR_MARK} This document was removed "
        "after the answer was given, so its text cannot be shown. Ask again to get an answer "
        "from the documents indexed now.</div>"
    )


def status_text(
    ready: bool,
    failure: str | None,
    documents: Mapping[str, Document],
    skipped: Sequence[Skipped] = (),
) -> str:
    """The status line: loading, ready (with what is indexed and what was skipped), or what
    went wrong."""
    if failure:
        return f"{ERROR_MARK} **Not ready**: {escape(failure)}"
    if not ready:
        return "**Loading** the model and the index…"
    # The index's documents (rag.retrieval.LazyDocuments) know their length: fetching every
    # one to count it would read the whole corpus. Those read at start are counted.
    size = getattr(documents, "characters", None)
    if size is None:
        size = sum(len(document.text) for document in documents.values())
    count = len(documents)
    note = describe_skipped(skipped)
    return (
        f"{READY_MARK} **Ready**: {count} document{'' if count == 1 else 's'} "
        f"({size:,} characters) indexed; the model is loaded."
        + (f" {escape(note[0].upper() + note[1:])}." if note else "")
    )
