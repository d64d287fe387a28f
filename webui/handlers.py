"""What each event of the page does, as methods of `Handlers`, which holds the `AppState`.
They return values for the layout's components and never raise into the page: an engine error
becomes a friendly message, anything else is logged and reported without a traceback."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import DocQAError
from rag.types import Answer, Citation
from webui import render
from webui.collection import document_rows, remove_document, store_upload
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
            result = self.state.answer(question, list(history or []))
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
        }

    def respond(
        self, message: str, chat: Chat | None, turns: list[Turn] | None, doc_id: str | None
    ) -> Iterator[tuple]:
        """Answer a chat message, streaming the reply; yields (chat, box, hint, doc, source,
        turns)."""
        chat = list(chat or [])
        turns = list(turns or [])
        message = message or ""
        if not message.strip():
            hint = "Type a question about the documents first, or click one of the examples."
            gr.Info(hint, duration=4)
            yield chat, "", hint, gr.skip(), gr.skip(), turns
            return
        chat.append({"role": "user", "content": render.shown_question(message)})
        yield chat, "", "", gr.skip(), gr.skip(), turns

        # Follow-ups read the last earlier question; a few are sent, never the whole chat.
        history = [turn["question"] for turn in turns if not turn.get("failed")][-HISTORY_SENT:]
        number = len(turns)
        result, reply = self._answer_for_chat(message, history, number)
        turns.append(
            {
                "question": message,
                "answer": result.text if result else reply,
                "citations": [asdict(c) for c in result.citations] if result else [],
                "abstained": bool(result and result.abstained),
                "failed": result is None,
                "message": len(chat),
            }
        )
        citations = result.citations if result else []
        shown_doc = citations[0].doc_id if citations else doc_id
        shown_doc, source = self._source(shown_doc, citations, number if citations else -1, 1)
        chat.append({"role": "assistant", "content": ""})
        if result is not None and not result.abstained:
            for partial in render.stream_prefixes(result.text):
                chat[-1] = {"role": "assistant", "content": render.escape(partial)}
                yield chat, "", "", gr.skip(), gr.skip(), turns
                time.sleep(STREAM_DELAY)
        chat[-1] = {"role": "assistant", "content": reply}
        yield chat, "", "", shown_doc, source, turns

    def _answer_for_chat(
        self, question: str, history: list[str], number: int
    ) -> tuple[Answer | None, str]:
        """(answer, its chat message), or (None, a friendly error message); never raises."""
        try:
            result = self.state.answer(question, history)
            documents = self.state.current_documents()
        except DocQAError as error:
            return None, render.format_error(str(error))
        except Exception:
            log.exception("answering %r failed", question)
            return None, render.format_error(FAILURE_MESSAGE)
        return result, render.format_answer(result, number, documents)

    def _source(
        self, doc_id: str | None, citations: list[Citation], turn: int, focus: int
    ) -> tuple[str, str]:
        """(doc_id, the source view's HTML): `doc_id` with `citations` highlighted."""
        documents = self.state.current_documents()
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
        return self._source(doc_id, citations, turn, 0)[1]

    def show_citation(self, wanted: str, turns: list[Turn] | None) -> tuple[Any, Any]:
        """Show span n of answer t ("t:n:time", sent by a click on [n]): its document, with that
        answer's citations highlighted and span n in focus; (doc, source)."""
        try:
            turn, number = (int(part) for part in wanted.split(":")[:2])
            citations = [Citation(**c) for c in (turns or [])[turn]["citations"]]
            cited = citations[number - 1]
        except (ValueError, IndexError, KeyError, TypeError):
            return gr.skip(), gr.skip()  # a stale click (the chat was cleared): nothing to show
        return self._source(cited.doc_id, citations, turn, number)

    def clear_chat(self, doc_id: str | None) -> tuple[Chat, str, str, str, list[Turn]]:
        """An empty conversation and the source without highlights."""
        return [], "", "", self._source(doc_id, [], -1, 0)[1], []

    def status(self) -> tuple[str, Any]:
        """The status line, and the poll timer (stopped once warm-up has finished)."""
        state = self.state
        documents = state.current_documents()
        text = render.status_text(state.warm.is_set(), state.failure, documents, state.skipped)
        return text, gr.Timer(active=not state.warm.is_set())

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
        """Store uploaded files under the source folder and re-index in the background;
        returns the collection view (see `collection`) with a message on what was done."""
        settings = self.state.settings
        stored, problems = [], []
        for path in files or []:
            try:
                stored.append(
                    store_upload(
                        settings.source_dir, Path(path), Path(path).name, settings.max_file_mb
                    )
                )
            except DocQAError as error:
                problems.append(str(error))
            except OSError as error:
                log.exception("storing upload %s failed", path)
                problems.append(f"{Path(path).name!r} could not be stored: {error.strerror}")
        if stored:
            self.state.reindex()
        message = (f"Added {', '.join(stored)}; re-indexing. " if stored else "") + " ".join(
            problems
        )
        return (None, *self.collection(), render.escape(message.strip()))

    def remove(self, doc_id: str | None) -> tuple[Any, ...]:
        """Delete document `doc_id` from the source folder and re-index in the background."""
        if not doc_id:
            return (*self.collection(), "Choose a document to remove first.")
        try:
            remove_document(self.state.settings.source_dir, doc_id)
        except DocQAError as error:
            return (*self.collection(), render.escape(str(error)))
        self.state.reindex()
        return (*self.collection(), render.escape(f"Removed {doc_id}; re-indexing."))

    def collection(self) -> tuple[Any, ...]:
        """(documents table, document selector, removable documents, indexing line, timer,
        intro, question box, status line): the timer keeps polling while a re-index runs."""
        state = self.state
        documents = state.current_documents()
        rows = document_rows(state.settings.source_dir, documents, state.skipped)
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
        elif indexing.error:
            line = f"{render.ERROR_MARK} Re-indexing failed: {render.escape(indexing.error)}"
        elif indexing.finished:
            count = indexing.documents
            line = f"{render.READY_MARK} Indexed {count} document{'' if count == 1 else 's'}."
        else:
            line = ""
        return (
            rows,
            gr.Dropdown(choices=names, visible=len(names) > 1),
            gr.Dropdown(choices=names, value=None),
            line,
            gr.Timer(active=indexing.running),
            render.intro(documents),
            gr.Textbox(placeholder=render.placeholder(documents)),
            self.status()[0],
        )
