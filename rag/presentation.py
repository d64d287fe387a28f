"""How answers read: the answer text with its numbered quotes, the plain text to paste
(`as_text`), a document's title, a refusal's words and the note on dropped sentences. The CLI,
the UI and `Answer.as_text` all take their words from here; nothing here imports another
module of rag at run time, so the records in rag.types can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.types import Answer, Citation, Document

_SENTENCE_END = re.compile(r"[.!?…][\"”’')\]]*$")


# Characters that reorder the text around them (U+202E turns "cod.exe" into what reads as
# "exe.doc"): a name or a message shows them as escapes, never applies them.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def without_bidi(text: str) -> str:
    """`text` with each bidirectional control shown as its escape, so it reads in the order it
    is stored: without_bidi("a\u202eb") -> "a\\u202eb"."""
    return _BIDI.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def ends_like_sentence(text: str) -> bool:
    """Whether `text` ends with a full stop, ! ? or …, and any closing quotes or brackets."""
    return bool(_SENTENCE_END.search(text))


HEDGE = "Possibly: "  # opens an answer given with middling confidence


def render(citations: list[Citation], short: Citation | None = None, hedged: bool = False) -> str:
    """The answer text: the short answer first when there is one, then each quote followed
    by its number, with an ellipsis where a quote starts or stops inside a sentence; a
    hedged answer (middling confidence) opens with HEDGE.

    render([c]) -> "quote [1]"; render([c], s) -> "Two. “…quote” [1]";
    render([c], s, hedged=True) -> "Possibly: Two. “…quote” [1]"
    """
    if hedged:
        return HEDGE + render(citations, short)
    # Behind a short answer the quotes are marked as quotes, so the two read apart.
    opening, closing = ("“", "”") if short else ("", "")
    quotes = " ".join(
        f"{quote_marks(citation.quote, opening, closing)} [{number}]"
        for number, citation in enumerate(citations, 1)
    )
    if short is None:
        return quotes
    return f"{short.quote[:1].upper()}{short.quote[1:]}. {quotes}"


OPENING_MARKS = "“‘\"'«"  # a quote that starts with one of these needs no opening mark of ours
CLOSING_MARKS = "”’\"'»"


def quote_marks(quote: str, opening: str = "“", closing: str = "”", ellipses: bool = True) -> str:
    """`quote` (with its ellipses) between quotation marks it does not already have:
    quote_marks("“We are ready,” he said.") -> "“We are ready,” he said.”" (not "““We")."""
    marked = _with_ellipses(quote) if ellipses else quote
    start = "" if quote[:1] in OPENING_MARKS else opening
    end = "" if quote[-1:] in CLOSING_MARKS else closing
    return f"{start}{marked}{end}"


def _with_ellipses(quote: str) -> str:
    starts_inside = quote[:1].islower()
    stops_inside = not ends_like_sentence(quote)
    return f"{'…' if starts_inside else ''}{quote}{'…' if stops_inside else ''}"


_TITLE_CHARS = 80  # a first line longer than this is a paragraph, not a title
_MARKDOWN_MARK = re.compile(r" {0,3}#{1,6}[ \t]+")


def title(document: Document) -> str:
    """What to call a document: its first heading, else a short first line, else its name."""
    if document.headings:
        start, end = document.headings[0]
        return _MARKDOWN_MARK.sub("", document.text[start:end], count=1).strip()
    first = document.text.strip().split("\n", 1)[0].strip()
    if first and len(first) <= _TITLE_CHARS and not first.endswith((".", "?", "!", ":")):
        return first
    return document.doc_id


def collection_name(documents: Mapping[str, Document]) -> str:
    """How answers and the UI name what they answer from: the one document's title (in
    quotes), or "the documents"."""
    if len(documents) == 1:
        return f"“{title(next(iter(documents.values())))}”"
    return "the documents"


def refusal(question: str, documents: Mapping[str, Document]) -> str:
    """The words of a refusal, naming the collection: "The documents do not say. …"."""
    if len(documents) == 1:
        name = collection_name(documents)
        return f"{name} does not say. Nothing in it answers “{question}”."
    return f"The documents do not say. Nothing in them answers “{question}”."


def dropped_note(reasons: Sequence[str]) -> str:
    """The note on generated sentences dropped as unsupported, each reason once:
    dropped_note(["no valid citation"]) -> "1 sentence dropped: no valid citation"."""
    count = len(reasons)
    why = "; ".join(dict.fromkeys(reason for reason in reasons if reason))
    return f"{count} sentence{'' if count == 1 else 's'} dropped" + (f": {why}" if why else "")


def as_text(answer: Answer, documents: Mapping[str, Document] | None = None) -> str:
    """Plain text a person can paste: the answer (the short answer, or a language model's
    verified sentences), then each quote, numbered, with its citation (document, page,
    characters); `documents` adds each document's title."""
    if answer.abstained or not answer.citations:
        return answer.text
    lines = [HEDGE.strip()] if answer.hedged else []
    if answer.reader == "llm":  # the generated sentences, their [n] numbering the quotes
        lines += [answer.text, ""]
    elif answer.short is not None:
        lines += [f"{answer.short.quote[:1].upper()}{answer.short.quote[1:]}.", ""]
    for number, citation in enumerate(answer.citations, 1):
        document = (documents or {}).get(citation.doc_id)
        named = title(document) if document is not None else citation.doc_id
        name = citation.doc_id if named == citation.doc_id else f"{named} ({citation.doc_id})"
        page = f", page {citation.page}" if citation.page else ""
        lines.append(f"[{number}] {quote_marks(citation.quote, ellipses=False)}")
        lines.append(f"    {name}{page}, characters {citation.start}–{citation.end}")
    return "\n".join(lines)


def attributed_note(count: int) -> str:
    """The note on kept sentences whose passage docqa found (the model cited none that states
    them): attributed_note(1) -> "1 sentence is cited by docqa: the model's own marker named
    no passage that states it."."""
    if not count:
        return ""
    one = count == 1
    return (
        f"{count} sentence{'' if one else 's'} {'is' if one else 'are'} cited by docqa: the "
        f"model's own marker named no passage that states {'it' if one else 'them'}."
    )
