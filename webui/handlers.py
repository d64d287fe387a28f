"""What each event of the page does, as methods of `Handlers`, which holds the `AppState`.
They return values for the layout's components and never raise into the page: an engine error
becomes a friendly message, anything else is logged and reported without a traceback. What
comes from the browser (a message, a kept conversation) is read as text and checked first."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gradio as gr

from rag.documents import UPLOADS
from rag.errors import DocQAError
from rag.types import Answer, Citation, Document
from rag.types import Turn as RagTurn  # an earlier turn sent with a follow-up
from webui import render
from webui.collection import (
    document_rows,
    exclusion_problem,
    removable,
    remove_document,
    restorable,
    restore_document,
    safe_name,
    store_upload,
)
from webui.feedback import feedback_record
from webui.state import FAILURE_MESSAGE, AppState

log = logging.getLogger("docqa.ui")

STREAM_DELAY = 0.02  # seconds between partial updates: about half a second per answer
HISTORY_SENT = 10  # earlier questions sent with each new one

# One exchange: {"question", "answer", "citations", "abstained", "failed", "message"}, where
# "message" is the index of its reply in the Chatbot (what a vote's LikeData.index names).
Turn = dict[str, Any]
Chat = list[dict[str, Any]]  # Chatbot messages: {"role": ..., "content": ...}
_NOWHERE = Citation("", 0, 0, "")  # stands in for a citation whose text has changed


class Handlers:
    """The page's event handlers over one `AppState`."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def ask(self, question: str, history: list[str] | None = None) -> dict[str, Any]:
        """Answer `question` (history: the earlier questions, oldest first) as JSON."""
        try:
            # History goes to the engine as sent: it refuses a plain string (which list()
            # would turn into one-letter questions) with a message, as the Python API does.
            result = self.state.answer(question, [] if history is None else history)
        except DocQAError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception:
            log.exception("answering %r failed", question)
            raise gr.Error(FAILURE_MESSAGE, print_exception=False) from None
        return {
            "text": result.text,
            "short": result.short.quote if result.short else None,
            "abstained": result.abstained,
            "question": result.question,
            "citations": [asdict(citation) for citation in result.citations],
            "reader": result.reader,
            "dropped": result.dropped,
            "note": result.note,
        }

    def respond(
        self, message: str, chat: Chat | None, turns: list[Turn] | None, doc_id: str | None
    ) -> Iterator[tuple]:
        """Answer a chat message, streaming the reply; yields (chat, box, hint, doc, source,
        turns)."""
        chat = list(chat or [])
        turns = list(turns or [])
        message = render.without_surrogates(message or "")
        if not message.strip():
            hint = "Type a question about the documents first, or click one of the examples."
            gr.Info(hint, duration=4)
            yield chat, "", hint, gr.skip(), gr.skip(), turns
            return
        chat.append({"role": "user", "content": render.shown_question(message)})
        yield chat, "", "", gr.skip(), gr.skip(), turns

        # Follow-ups read the last earlier turn, with its answer ("he" after "Who scored?" is
        # the scorer); a few turns are sent, never the whole chat.
        history = [
            RagTurn(turn["question"], "" if turn["abstained"] else turn["answer"], turn["short"])
            for turn in turns
            if not turn.get("failed")
        ][-HISTORY_SENT:]
        number = len(turns)
        draft = render.Draft()
        result: Answer | None = None
        reply = ""
        opened = False  # the reply's bubble is in the chat
        last_shown = 0.0
        for event in self._events_for_chat(message, history):
            if isinstance(event, str):  # a friendly error message: the question failed
                reply = event
                break
            name = type(event).__name__  # rag.generation's events, imported with the engine
            if name == "Done":
                result = event.answer
                break
            if name == "Token":
                draft.add_token(event.text)
            elif name == "Verdict":
                draft.add_verdict(event)
            # The model's tokens come faster than a page needs redrawing: at most one
            # update per STREAM_DELAY, and every verdict at once.
            now = time.monotonic()
            if name == "Verdict" or now - last_shown >= STREAM_DELAY:
                if not opened:  # the reply's bubble opens with its first words
                    chat.append({})
                    opened = True
                chat[-1] = {"role": "assistant", "content": draft.shown()}
                last_shown = now
                yield chat, "", "", gr.skip(), gr.skip(), turns
        if result is not None:
            try:
                reply = render.format_answer(
                    result, number, self.state.current_documents(), draft.dropped_reasons
                )
            except DocQAError as error:
                result, reply = None, render.format_error(str(error))
        elif not reply:
            reply = render.format_error(FAILURE_MESSAGE)
        turns.append(
            {
                "question": message,
                "answer": result.text if result else reply,
                "citations": [asdict(c) for c in result.citations] if result else [],
                "abstained": bool(result and result.abstained),
                "short": result.short.quote if result and result.short else "",
                "failed": result is None,
                "message": len(chat) - 1 if opened else len(chat),
            }
        )
        citations = result.citations if result else []
        shown_doc = citations[0].doc_id if citations else doc_id
        try:
            shown_doc, source = self._source(shown_doc, citations, number if citations else -1, 1)
        except DocQAError as error:
            gr.Warning(str(error))
            shown_doc, source = gr.skip(), gr.skip()
        if not opened:
            chat.append({"role": "assistant", "content": ""})
        # With no language model nothing streamed: the answer is shown growing, as it was.
        if result is not None and not result.abstained and not draft.streamed:
            for partial in render.stream_prefixes(result.text):
                chat[-1] = {"role": "assistant", "content": render.escape(partial)}
                yield chat, "", "", gr.skip(), gr.skip(), turns
                time.sleep(STREAM_DELAY)
        chat[-1] = {"role": "assistant", "content": reply}
        yield chat, "", "", shown_doc, source, turns

    def _events_for_chat(self, question: str, history: list[RagTurn]) -> Iterator[Any]:
        """The engine's answer as its stream's events (Token, Verdict, then Done), or a
        friendly error message in their place; never raises."""
        try:
            yield from self.state.stream(question, history)
        except DocQAError as error:
            yield render.format_error(str(error))
        except Exception:
            log.exception("answering %r failed", question)
            yield render.format_error(FAILURE_MESSAGE)

    def _source(
        self, doc_id: str | None, citations: list[Citation], turn: int, focus: int
    ) -> tuple[str, str]:
        """(doc_id, the source view's HTML): `doc_id` with `citations` highlighted; a cited
        document that is no longer indexed is said to be gone, never replaced by another."""
        documents = self.state.current_documents()
        if doc_id not in documents and any(c.doc_id == doc_id for c in citations):
            return doc_id, render.gone_html(doc_id, turn)
        if doc_id not in documents:
            doc_id = next(iter(documents))
        # A conversation kept in the browser may cite text the index has changed since:
        # only spans whose quote is still the text there are highlighted (a stale one keeps
        # its place in the list, so the others keep their numbers).
        citations = [
            citation
            if citation.doc_id in documents
            and documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
            else _NOWHERE
            for citation in citations
        ]
        return doc_id, render.source_html(documents[doc_id], citations, turn, focus)

    def show_document(self, doc_id: str, turns: list[Turn] | None) -> str:
        """Switch the source view to `doc_id`, keeping the latest answer's highlights."""
        turn = len(turns) - 1 if turns else -1
        citations = [Citation(**c) for c in turns[-1]["citations"]] if turns else []
        try:
            return self._source(doc_id, citations, turn, 0)[1]
        except DocQAError as error:
            gr.Warning(str(error))
            return gr.skip()

    def show_citation(self, wanted: str, turns: list[Turn] | None) -> tuple[Any, Any]:
        """Show span n of answer t ("t:n:time", sent by a click on [n]): its document, with that
        answer's citations highlighted and span n in focus; (doc, source)."""
        try:
            turn, number = (int(part) for part in wanted.split(":")[:2])
            citations = [Citation(**c) for c in (turns or [])[turn]["citations"]]
            cited = citations[number - 1]
        except (ValueError, IndexError, KeyError, TypeError):
            return gr.skip(), gr.skip()  # a stale click (the chat was cleared): nothing to show
        try:
            return self._source(cited.doc_id, citations, turn, number)
        except DocQAError as error:
            gr.Warning(str(error))
            return gr.skip(), gr.skip()

    def clear_chat(self, doc_id: str | None) -> tuple[Chat, str, str, Any, list[Turn]]:
        """An empty conversation and the source without highlights."""
        try:
            source: Any = self._source(doc_id, [], -1, 0)[1]
        except DocQAError as error:
            gr.Warning(str(error))
            source = gr.skip()
        return [], "", "", source, []

    def restore(self, saved: object) -> tuple[Chat, list[Turn], Any, Any]:
        """The conversation the browser kept, as far as it can be read: each chat message with
        a role and text, each turn with a question, an answer and well-formed citations; the
        rest (tampered, or from an older page) is left out, so it never breaks a question.
        Returns (chat, turns, doc, source): the source view shows the latest answer's spans,
        or the first document."""
        chat, turns = _kept(saved)
        latest = next((turn for turn in reversed(turns) if turn["citations"]), None)
        citations = [Citation(**c) for c in latest["citations"]] if latest else []
        try:
            doc, source = self._source(
                citations[0].doc_id if citations else None,
                citations,
                turns.index(latest) if latest else -1,
                1 if citations else 0,
            )
        except DocQAError:
            return chat, turns, gr.skip(), gr.skip()  # the status line says what went wrong
        return chat, turns, doc, source

    def status(self) -> tuple[str, Any]:
        """The status line, and the poll timer (stopped once warm-up has finished)."""
        return self._status_line(*self._documents()), gr.Timer(active=not self.state.warm.is_set())

    def _documents(self) -> tuple[Mapping[str, Document], str | None]:
        """(the engine's current documents, None), or, when the index cannot be read (a Chroma
        server gone away), (the documents read at start, what went wrong)."""
        try:
            return self.state.current_documents(), None
        except DocQAError as error:
            return self.state.documents, str(error)

    def _status_line(self, documents: Mapping[str, Document], problem: str | None) -> str:
        state = self.state
        failure = problem or state.failure
        return render.status_text(state.warm.is_set(), failure, documents, state.skipped)

    def record_vote(self, data: gr.LikeData, turns: list[Turn] | None) -> None:
        """Append a thumbs up/down on an answer to the feedback file."""
        turn = next((turn for turn in turns or [] if turn["message"] == data.index), None)
        if turn is None:  # a vote on a message that is not an answer: keep what it says
            turn = {"answer": str(data.value)}
        try:
            self.state.feedback.append(feedback_record(turn, data.liked))
        except OSError:
            log.exception("cannot write feedback to %s", self.state.feedback.path)
            gr.Warning("Your vote could not be saved; the server log says why.")
            return
        gr.Info("Thanks for the feedback!", duration=3)

    # -- the collection: upload, remove, re-index ---------------------------------------

    def upload(self, files: list[str] | None) -> tuple[Any, ...]:
        """Store uploaded files in the upload folder and re-index in the background; returns
        the collection view (see `collection`) with a message on what was done."""
        settings = self.state.settings
        stored, problems = [], []
        for path in files or []:
            sent = Path(path).name
            try:
                doc_id = store_upload(settings, Path(path), sent)
                stored.append(_stored_as(sent, doc_id))
            except DocQAError as error:
                problems.append(str(error))
            except OSError as error:
                log.exception("storing upload %s failed", path)
                problems.append(f"{sent!r} could not be stored: {error.strerror}")
            finally:
                _discard_upload(Path(path))
        if stored:
            self.state.reindex()
        message = (f"Added {', '.join(stored)}; re-indexing. " if stored else "") + " ".join(
            problems
        )
        return (None, *self.collection(keep_choices=False), render.escape(message.strip()))

    def remove(self, doc_id: str | None) -> tuple[Any, ...]:
        """Take `doc_id` (indexed, skipped or waiting) out of the collection: an upload is
        deleted, a file of the source folder hidden from the index; then re-index in the
        background."""
        if not doc_id:
            return (*self.collection(), "Choose a document to remove first.")
        return self._change(doc_id, remove_document, "removed")

    def restore_document(self, doc_id: str | None) -> tuple[Any, ...]:
        """Index again a source file that was removed from the index."""
        if not doc_id:
            return (*self.collection(), "Choose a document to restore first.")
        return self._change(doc_id, restore_document, "restored")

    def _change(self, doc_id: str, change: Any, doing: str) -> tuple[Any, ...]:
        try:
            done = change(self.state.settings, doc_id)
        except DocQAError as error:
            return (*self.collection(), render.escape(str(error)))
        except OSError as error:
            log.exception("%s could not be %s", doc_id, doing)
            message = f"{doc_id!r} could not be {doing}: {error.strerror}"
            return (*self.collection(), render.escape(message))
        self.state.reindex()
        return (*self.collection(keep_choices=False), render.escape(f"{done}; re-indexing."))

    def cancel_reindex(self) -> tuple[Any, ...]:
        """Stop the running re-index; the previous index keeps serving."""
        self.state.cancel_reindex()
        return self.collection()

    def watch(self, seen: str | None) -> tuple[Any, ...]:
        """(what the page now shows, *the collection view) when the collection differs from
        `seen` (what the page showed), else nothing changes: run when the page loads and
        every few seconds, so a reload or another process's re-index is shown."""
        view = self.collection()
        now = repr([_shown(part) for part in view])
        if now == seen:
            return (gr.skip(),) * (len(view) + 1)
        return (now, *view)

    def collection(self, keep_choices: bool = True) -> tuple[Any, ...]:
        """(documents table, document selector, removable files, indexing line, timer, intro,
        question box, status line, restorable files, restore button, cancel button): the
        timer keeps polling, and the cancel button shows, while a re-index runs. A choice
        being made to remove or restore is kept, unless `keep_choices` is False (it was
        acted on)."""
        state = self.state
        documents, problem = self._documents()
        rows = document_rows(state.settings, documents, state.skipped)
        hidden = restorable(state.settings)
        chosen: dict[str, Any] = {} if keep_choices else {"value": None}
        names = list(documents)
        indexing = state.indexing
        if indexing.running:
            seconds = time.monotonic() - indexing.started
            done, total = indexing.embedded, indexing.to_embed
            # Until the build knows how many sentences it embeds, the bar has no value
            # (the browser draws it as busy).
            bar = f"value='{done}' max='{total}'" if total else ""
            counted = f"{done:,} of {total:,} sentences embedded, " if total else ""
            line = (
                f"<progress aria-label='Re-indexing' {bar}></progress> Re-indexing the "
                f"documents ({counted}{seconds:.0f} s so far); answers come from the previous "
                "index meanwhile."
            )
        elif problem:
            line = f"{render.ERROR_MARK} {render.escape_html(problem)}"
        elif broken := exclusion_problem(state.settings):  # the line `docqa index` prints
            line = f"{render.ERROR_MARK} {render.escape_html(broken)}"
        elif indexing.error:
            line = f"{render.ERROR_MARK} Re-indexing failed: {render.escape_html(indexing.error)}"
        elif indexing.cancelled:
            line = "Re-indexing was cancelled; answers come from the previous index."
        elif indexing.finished:
            count = indexing.documents
            line = f"{render.READY_MARK} Indexed {count} document{'' if count == 1 else 's'}."
        else:
            line = ""
        return (
            render.shown_rows(rows),
            gr.Dropdown(choices=render.name_choices(names), visible=len(names) > 1),
            gr.Dropdown(choices=render.name_choices(removable(state.settings, rows)), **chosen),
            line,
            gr.Timer(active=indexing.running),
            render.intro(documents),
            gr.Textbox(placeholder=render.placeholder(documents)),
            self._status_line(documents, problem),
            gr.Dropdown(choices=render.name_choices(hidden), visible=bool(hidden), **chosen),
            gr.Button(visible=bool(hidden)),
            gr.Button(visible=indexing.running),
        )


def _stored_as(sent: str, doc_id: str) -> str:
    """How an upload is named in the message: "uploads/ferry.txt", or "ｆｅｒｒｙ.txt as
    uploads/ferry (2).txt (that name was taken)" when it was stored under another name."""
    name = doc_id.removeprefix(UPLOADS)
    if name == sent:
        return doc_id
    taken = " (that name was taken)" if name != safe_name(sent) else ""
    return f"{sent} as {doc_id}{taken}"


def _shown(part: Any) -> Any:
    """What a component update shows, comparable between two calls (gradio's update objects
    do not compare by value)."""
    if isinstance(part, gr.components.Component):
        return sorted((key, repr(value)) for key, value in vars(part).items() if key in _SHOWN)
    return part


_SHOWN = {"choices", "visible", "placeholder", "value", "active"}


def _kept(saved: object) -> tuple[Chat, list[Turn]]:
    if not isinstance(saved, dict):
        return [], []
    chat, turns = saved.get("chat"), saved.get("turns")
    messages = [_message(item) for item in chat] if isinstance(chat, list) else []
    kept = [_turn(item) for item in turns] if isinstance(turns, list) else []
    return [m for m in messages if m is not None], [t for t in kept if t is not None]


def _discard_upload(upload: Path) -> None:
    """Delete Gradio's temporary copy of an upload (and its folder, once empty), so Gradio's
    file route no longer serves it after it is stored, refused or later removed. Only a file
    inside Gradio's upload folder is touched."""
    folder = Path(gr.utils.get_upload_folder()).resolve()
    if folder in upload.resolve().parents:
        upload.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            upload.parent.rmdir()


def _message(item: object) -> dict[str, str] | None:
    """A chat message kept in the browser, as {"role", "content"} text, or None: only text
    (never a file path the page would then serve)."""
    if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
        return None
    content = item.get("content")
    if isinstance(content, list):  # Gradio's form: [{"type": "text", "text": ...}, ...]
        if not all(isinstance(p, dict) and p.get("type") == "text" for p in content):
            return None
        content = "".join(str(part.get("text", "")) for part in content)
    if not isinstance(content, str):
        return None
    return {"role": item["role"], "content": render.without_surrogates(content)}


def _turn(item: object) -> Turn | None:
    """A turn kept in the browser, checked field by field, or None when any is unreadable."""
    if not isinstance(item, dict):
        return None
    question, answer, message = item.get("question"), item.get("answer", ""), item.get("message")
    citations, short = item.get("citations", []), item.get("short", "")
    if not (
        isinstance(question, str)
        and isinstance(answer, str)
        and isinstance(short, str)
        and _is_count(message)
        and isinstance(citations, list)
    ):
        return None
    cited = [_citation(citation) for citation in citations]
    if any(citation is None for citation in cited):
        return None
    return {
        "question": render.without_surrogates(question),
        "answer": render.without_surrogates(answer),
        "citations": cited,
        "abstained": item.get("abstained") is True,
        "short": render.without_surrogates(short),
        "failed": item.get("failed") is True,
        "message": message,
    }


def _citation(item: object) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    doc_id, quote, page = item.get("doc_id"), item.get("quote"), item.get("page")
    start, end = item.get("start"), item.get("end")
    if not (isinstance(doc_id, str) and isinstance(quote, str) and _is_count(start)):
        return None
    if not (_is_count(end) and (page is None or _is_count(page))):
        return None
    clean = render.without_surrogates
    return asdict(Citation(clean(doc_id), start, end, clean(quote), page))


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
