"""The docqa web UI: a chat about the source documents, with the cited spans highlighted.

Run it with `make run` or `python ui.py`; it serves http://127.0.0.1:7860 unless
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise. The UI only presents: every answer
comes from `rag.answer()`, and every string shown in the chat is escaped first.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sys
import threading
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Set before gradio is imported: it reads these at import time.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import gradio as gr

from rag import Answer, Citation, DocQAError, Settings
from rag.documents import Skipped, describe_skipped, load_sources
from rag.types import Document

# rag.chain (LangChain, the model, Chroma) is imported by the warm-up thread and the
# handlers, not here, so the page is served without waiting for it.

log = logging.getLogger("docqa.ui")

ROOT = Path(__file__).resolve().parent
EVALS_DIR = ROOT / "evals"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
EXAMPLE_CATEGORIES = ("factual", "paraphrase")  # answerable questions make good examples
EXAMPLES_PER_CATEGORY = 2
STREAM_STEPS = 24  # at most this many partial updates while an answer streams in
STREAM_DELAY = 0.02  # seconds between partial updates: about half a second per answer
SHOWN_QUESTION_CHARS = 300  # an over-long question is shown cut to this length
ABSTAIN_MARK = "⊘"  # plain symbols: emoji fonts are not everywhere
HISTORY_SENT = 10  # earlier questions sent with each new one
ERROR_MARK = "⚠"
FAILURE_MESSAGE = (
    "Something went wrong while answering that question. It has been logged; "
    "please try again, or ask something else."
)
HIGHLIGHT_COLOURS = ("#fde68a", "#a7f3d0", "#bfdbfe", "#fbcfe8", "#ddd6fe", "#fed7aa")

# The reader is not known to be thread-safe; answers are quick, so run one at a time
# and let only the streaming (presentation) overlap between users.
_ANSWER_LOCK = threading.Lock()
WARM_UP_TIMEOUT = 600.0  # seconds a question waits for the model and index to load
# The page is served at once; the model and the index load in the background, and the
# status line says Ready when they have. Questions asked before then wait for it.
_WARM = threading.Event()
_WARM_FAILURE: list[str] = []
_DOCUMENTS: dict[str, Document] = {}
_FEEDBACK_LOCK = threading.Lock()
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")

# One exchange: {"question", "answer", "citations", "abstained", "failed", "message"}, where
# "message" is the index of its reply in the Chatbot (what a vote's LikeData.index names).
Turn = dict[str, Any]
Chat = list[dict[str, Any]]  # Chatbot messages: {"role": ..., "content": ...}

CSS = """
#status { font-size: 0.95em; }
/* display and font-size let a quote that starts mid-line run on from the text before it, as
   in the source: the panel lays its pieces out as blocks otherwise, and its markup puts
   spaces between them. */
#source .textfield {
  max-height: 600px; overflow-y: auto; line-height: 1.6; display: block !important; font-size: 0;
}
#source .token-container { display: inline !important; }
#source .token { font-size: var(--text-md); }
#source .token.highlighted { margin: 0 !important; padding: 1px 2px !important; }
#source .line-break { display: block; }
#source .textfield, #source .text { word-break: normal !important; overflow-wrap: break-word; }
.abstained { color: var(--body-text-color-subdued); font-style: italic; }
.failed { color: var(--error-text-color, #b91c1c); }
.quote-place { color: var(--body-text-color-subdued); }
"""

# After an answer, scroll the source panel (not the page) to the first highlighted span.
SCROLL_TO_HIGHLIGHT_JS = """
() => setTimeout(() => {
  const panel = document.querySelector('#source .textfield');
  const mark = panel && panel.querySelector('.highlighted');
  if (mark) panel.scrollTo({top: mark.offsetTop - panel.offsetTop - 24, behavior: 'smooth'});
}, 100)
"""


# -- presenting text ---------------------------------------------------------------------


def escape(text: str) -> str:
    """Text shown literally by the Markdown chat: escape("<b>*x*</b>") has no tag, no emphasis."""
    return html.escape(_MARKDOWN_SPECIALS.sub(r"\\\1", text), quote=False)


def format_answer(result: Answer) -> str:
    """The chat message for an answer: the answer, then its numbered quotes and where they are."""
    if result.abstained:
        return format_abstention(result.text)
    quotes = "\n".join(
        f"- **\\[{number}\\]** {escape(citation.quote)} <small class='quote-place'>"
        f"({escape(citation.doc_id)}, characters {citation.start}–{citation.end})</small>"
        for number, citation in enumerate(result.citations, 1)
    )
    return f"{escape(result.text)}\n\n<details><summary>Quotes</summary>\n\n{quotes}\n\n</details>"


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


def highlight_segments(text: str, citations: list[Citation], doc_id: str) -> list[tuple]:
    """The document as (text, label) pieces for gr.HighlightedText; cited spans get "[n]".

    Numbers follow the answer's citations, so they match the chat even across documents.
    highlight_segments("ab cd", [Citation("d", 3, 5, "cd")], "d") -> [("ab ", None), ("cd", "[1]")]
    """
    pieces: list[tuple] = []
    cursor = 0
    numbered = sorted(
        (citation.start, citation.end, number)
        for number, citation in enumerate(citations, 1)
        if citation.doc_id == doc_id
    )
    for start, end, number in numbered:
        start = max(start, cursor)  # subtle: overlapping spans keep the earlier number
        if start >= end:
            continue
        if start > cursor:
            pieces.append((text[cursor:start], None))
        pieces.append((text[start:end], f"[{number}]"))
        cursor = end
    if cursor < len(text):
        pieces.append((text[cursor:], None))
    return pieces


# -- example questions and feedback -------------------------------------------------------


def load_examples(documents: Mapping[str, Document], evals_dir: Path = EVALS_DIR) -> list[str]:
    """A few answerable eval questions about the loaded documents, to click on."""
    examples: list[str] = []
    for path in sorted(evals_dir.rglob("questions.toml")):
        try:
            suite = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            log.warning("cannot read example questions from %s", path, exc_info=True)
            continue
        if suite.get("document") not in documents:
            continue
        for category in EXAMPLE_CATEGORIES:
            picked = [
                item["question"]
                for item in suite.get("question", [])
                if item.get("category") == category
                and item.get("answers")
                and not item.get("history")
            ]
            examples.extend(picked[:EXAMPLES_PER_CATEGORY])
    return examples


def append_feedback(path: Path, record: Mapping[str, Any]) -> None:
    """Append `record` as one JSON line to `path`, creating its folder."""
    line = json.dumps(record, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _FEEDBACK_LOCK, path.open("a", encoding="utf-8") as handle:
        handle.write(line)


def feedback_record(turn: Turn, liked: bool | str | None) -> dict[str, Any]:
    """The JSON line for a vote: {time, question, answer, citations, vote}."""
    if liked is True:
        vote = "up"
    elif liked is False:
        vote = "down"
    else:  # None when a vote is taken back; a string for a custom feedback option
        vote = "cleared" if liked is None else str(liked)
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "question": turn.get("question", ""),
        "answer": turn.get("answer", ""),
        "citations": turn.get("citations", []),
        "vote": vote,
    }


# -- event handlers -----------------------------------------------------------------------


def ask(question: str, history: list[str] | None = None) -> dict[str, Any]:
    """Answer `question` (history: the earlier questions, oldest first) as JSON for API clients."""
    try:
        _wait_until_warm()
        with _ANSWER_LOCK:
            result = _docqa().answer(question, history)
    except DocQAError as error:
        raise gr.Error(str(error), print_exception=False) from None
    except Exception:
        log.exception("answering %r failed", question)
        raise gr.Error(FAILURE_MESSAGE, print_exception=False) from None
    return {
        "text": result.text,
        "abstained": result.abstained,
        "question": result.question,
        "citations": [asdict(citation) for citation in result.citations],
    }


def shown_question(message: str) -> str:
    """The user's message as the chat shows it: escaped, and cut when it is very long."""
    if len(message) <= SHOWN_QUESTION_CHARS:
        return escape(message)
    return escape(message[:SHOWN_QUESTION_CHARS]) + "…"


def respond(
    message: str, chat: Chat | None, turns: list[Turn] | None, doc_id: str | None
) -> Iterator[tuple]:
    """Answer a chat message, streaming the reply; yields (chat, box, hint, doc, source, turns)."""
    chat = list(chat or [])
    turns = list(turns or [])
    message = message or ""
    if not message.strip():
        hint = "Type a question about the source first, or click one of the examples."
        gr.Info(hint, duration=4)
        yield chat, "", hint, gr.skip(), gr.skip(), turns
        return
    chat.append({"role": "user", "content": shown_question(message)})
    yield chat, "", "", gr.skip(), gr.skip(), turns

    # Follow-ups read the last earlier question; a few are sent, never the whole chat.
    history = [turn["question"] for turn in turns if not turn.get("failed")][-HISTORY_SENT:]
    result, reply = _answer_for_chat(message, history)
    turn: Turn = {
        "question": message,
        "answer": result.text if result else reply,
        "citations": [asdict(citation) for citation in result.citations] if result else [],
        "abstained": bool(result and result.abstained),
        "failed": result is None,
        "message": len(chat),
    }
    turns.append(turn)
    citations = result.citations if result else []
    shown_doc = citations[0].doc_id if citations else doc_id
    source = _source_value(shown_doc, citations)
    chat.append({"role": "assistant", "content": ""})

    if result is None or result.abstained:
        chat[-1] = {"role": "assistant", "content": reply}
        yield chat, "", "", shown_doc, source, turns
        return
    for partial in stream_prefixes(result.text):
        chat[-1] = {"role": "assistant", "content": escape(partial)}
        yield chat, "", "", gr.skip(), gr.skip(), turns
        time.sleep(STREAM_DELAY)
    chat[-1] = {"role": "assistant", "content": reply}
    yield chat, "", "", shown_doc, source, turns


def _answer_for_chat(question: str, history: list[str]) -> tuple[Answer | None, str]:
    """(answer, its chat message), or (None, a friendly error message); never raises."""
    try:
        _docqa().check_question(question)
        _wait_until_warm()
        with _ANSWER_LOCK:
            result = _docqa().answer(question, history)
    except DocQAError as error:
        return None, format_error(str(error))
    except Exception:
        log.exception("answering %r failed", question)
        return None, format_error(FAILURE_MESSAGE)
    return result, format_answer(result)


def warm_up() -> None:
    """Load the model and the index (run in a background thread); record any failure."""
    try:
        _docqa().warm_up()
    except DocQAError as error:
        _WARM_FAILURE.append(str(error))
    except Exception:
        log.exception("warming up failed")
        _WARM_FAILURE.append(FAILURE_MESSAGE)
    finally:
        _WARM.set()


def _docqa():  # -> rag.chain.DocQA
    from rag.chain import default_docqa

    return default_docqa()


def _wait_until_warm() -> None:
    if not _WARM.wait(WARM_UP_TIMEOUT):
        raise DocQAError("the model and the index are still loading: ask again in a minute")
    if _WARM_FAILURE:
        raise DocQAError(_WARM_FAILURE[0])


def status_text(documents: Mapping[str, Document], skipped: Sequence[Skipped] = ()) -> str:
    """The status line: loading, ready (with what is indexed and what was skipped), or what
    went wrong."""
    if not _WARM.is_set():
        return "⏳ **Loading** the model and the index…"
    if _WARM_FAILURE:
        return f"{ERROR_MARK} **Not ready**: {escape(_WARM_FAILURE[0])}"
    size = sum(len(document.text) for document in documents.values())
    count = len(documents)
    note = describe_skipped(skipped)
    return (
        f"✓ **Ready**: {count} document{'s' if count > 1 else ''} "
        f"({size:,} characters) indexed; the model is loaded."
        + (f" {escape(note[0].upper() + note[1:])}." if note else "")
    )


def _source_value(doc_id: str | None, citations: list[Citation]) -> list[tuple]:
    """The source panel's value: document `doc_id` with `citations` highlighted."""
    # Once warm, the engine's documents: the text its newest index generation holds, so a
    # highlight never lands on text that has changed since the page was served.
    documents = _docqa().corpus.documents if _WARM.is_set() and not _WARM_FAILURE else _DOCUMENTS
    if doc_id not in documents:
        doc_id = next(iter(documents))
    return highlight_segments(documents[doc_id].text, citations, doc_id)


def show_document(doc_id: str, turns: list[Turn] | None) -> list[tuple]:
    """Switch the source panel to `doc_id`, keeping the latest answer's highlights."""
    latest = turns[-1]["citations"] if turns else []
    return _source_value(doc_id, [Citation(**citation) for citation in latest])


def clear_chat(doc_id: str | None) -> tuple[Chat, str, str, list[tuple], list[Turn]]:
    """An empty conversation and the source without highlights."""
    return [], "", "", _source_value(doc_id, []), []


def record_vote(data: gr.LikeData, turns: list[Turn] | None) -> None:
    """Append a thumbs up/down on an answer to the feedback file."""
    turn = next((turn for turn in turns or [] if turn["message"] == data.index), None)
    if turn is None:  # a vote on a message that is not an answer: keep what it says
        turn = {"answer": str(data.value)}
    path = Settings.from_env().feedback_path
    try:
        append_feedback(path, feedback_record(turn, data.liked))
    except OSError:
        log.exception("cannot write feedback to %s", path)
        gr.Warning("Your vote could not be saved; the server log says why.")
        return
    gr.Info("Thanks for the feedback!", duration=3)


# -- the page -----------------------------------------------------------------------------


def citation_colours(count: int = 30) -> dict[str, str]:
    """Highlight colours for the labels "[1]" … "[count]", cycling through a light palette."""
    return {
        f"[{n}]": HIGHLIGHT_COLOURS[(n - 1) % len(HIGHLIGHT_COLOURS)] for n in range(1, count + 1)
    }


def build_app(
    documents: Mapping[str, Document], examples: list[str], skipped: Sequence[Skipped] = ()
) -> gr.Blocks:
    """The Blocks app: a chat on the left, the source with its cited spans on the right;
    `skipped` lists the source folder's files that were not read, for the status line."""
    doc_ids = list(documents)
    first = doc_ids[0]
    what = "the article" if len(doc_ids) == 1 else f"the {len(doc_ids)} documents"
    with gr.Blocks(title="docqa: ask the source") as app:
        gr.Markdown(
            "# docqa: ask the source\n"
            f"Ask a question about {what}. Every answer is quoted word for word from the "
            "source, with numbered citations highlighted in the text on the right. When the "
            "source does not say, docqa tells you so instead of guessing. Follow-up questions "
            "can refer to earlier ones."
        )
        status = gr.Markdown(status_text(documents, skipped), elem_id="status")
        poll = gr.Timer(0.5, active=not _WARM.is_set())
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="chat",
                    height=520,
                    sanitize_html=True,
                    render_markdown=True,
                    latex_delimiters=[],
                    buttons=[],
                    feedback_options=("Like", "Dislike"),
                    placeholder="Ask a question below, or click one of the examples.",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder=f"Ask about {what}… (Enter to send)",
                        label="Question",
                        show_label=False,
                        container=False,
                        scale=8,
                        elem_id="question",
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                hint = gr.Markdown("", label="Hint", elem_id="hint")
                example_box = gr.Examples(examples, inputs=[box], label="Example questions")
                clear = gr.Button("Clear the conversation", variant="secondary", size="sm")
            with gr.Column(scale=4):
                selector = gr.Dropdown(
                    doc_ids, value=first, label="Document", visible=len(doc_ids) > 1
                )
                source = gr.HighlightedText(
                    highlight_segments(documents[first].text, [], first),
                    label=f"Source: {first}" if len(doc_ids) == 1 else "Source",
                    elem_id="source",
                    show_legend=False,
                    show_inline_category=True,
                    color_map=citation_colours(),
                    interactive=False,
                )

        chat_io = {
            "fn": respond,
            "inputs": [box, chatbot, turns, selector],
            "outputs": [chatbot, box, hint, selector, source, turns],
            "show_progress": "minimal",
        }
        for event in (
            box.submit(**chat_io, api_name="chat"),
            send.click(**chat_io, api_visibility="private"),
            example_box.load_input_event.then(**chat_io, api_visibility="private"),
        ):
            event.then(None, js=SCROLL_TO_HIGHLIGHT_JS, api_visibility="private")
        selector.input(show_document, [selector, turns], source, api_visibility="private")
        for event in (clear.click, chatbot.clear):
            event(
                clear_chat,
                [selector],
                [chatbot, box, hint, source, turns],
                api_visibility="private",
            )
        chatbot.like(record_vote, [turns], None, api_visibility="private")

        def refresh_status() -> tuple[str, gr.Timer]:
            return status_text(documents, skipped), gr.Timer(active=not _WARM.is_set())

        poll.tick(refresh_status, None, [status, poll], api_visibility="private")
        app.load(refresh_status, None, [status, poll], api_visibility="private")
        gr.api(ask, api_name="ask")
    return app


def server_address() -> tuple[str, int]:
    """(host, port) from GRADIO_SERVER_NAME and GRADIO_SERVER_PORT, else 127.0.0.1:7860."""
    host = os.environ.get("GRADIO_SERVER_NAME") or DEFAULT_HOST
    port = os.environ.get("GRADIO_SERVER_PORT") or str(DEFAULT_PORT)
    try:
        return host, int(port)
    except ValueError:
        raise SystemExit(f"docqa: GRADIO_SERVER_PORT must be a port number, not {port!r}") from None


def main() -> int:
    """Serve the UI at once and warm the model and the index behind it, until interrupted."""
    logging.basicConfig(level=logging.WARNING, format="docqa-ui: %(levelname)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
    host, port = server_address()
    try:
        settings = Settings.from_env()
        sources = load_sources(settings.source_dir, settings.max_file_mb)
        documents = {document.doc_id: document for document in sources.documents}
    except DocQAError as error:
        print(f"docqa: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    _DOCUMENTS.update(documents)
    print("docqa: loading the model and the index in the background…", flush=True)
    threading.Thread(target=warm_up, name="docqa-warm-up", daemon=True).start()
    skipped = sources.skipped
    if skipped:
        print(f"docqa: {describe_skipped(skipped)}", flush=True)
    app = build_app(documents, load_examples(documents), skipped)
    app.queue(default_concurrency_limit=8)
    try:
        app.launch(
            server_name=host,
            server_port=port,
            share=False,
            quiet=True,
            prevent_thread_lock=True,
            show_error=False,
            css=CSS,
            theme=gr.themes.Default(primary_hue="blue"),
        )
    except OSError as error:
        print(f"docqa: cannot serve on {host}:{port}: {error}", file=sys.stderr)
        return 1
    print(f"docqa is serving: open http://{host}:{port}", flush=True)
    app.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
