"""The page: a chat beside the source view (under it on a narrow screen), its CSS and the
small scripts that scroll the view to a cited span and turn a click on [n] into a request."""

from __future__ import annotations

from typing import Any

import gradio as gr

from webui import render
from webui.collection import allowed_types, document_rows, removable, restorable
from webui.handlers import Handlers

CITE_REQUEST_ID = "cite-request"
CONVERSATION_KEY = "docqa-conversation"  # where the browser keeps the conversation
WATCH_SECONDS = 5.0  # how often the page checks whether the collection changed elsewhere

CSS = """
#status { font-size: 0.95em; }
#source .source-view {
  max-height: 600px; overflow-y: auto; white-space: pre-wrap; overflow-wrap: break-word;
  line-height: 1.6; padding: 8px 12px; border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-lg); background: var(--background-fill-primary);
}
#source .source-head { font-size: 0.9em; color: var(--body-text-color-subdued); margin: 4px 0; }
#source .source-name { font-weight: 600; color: var(--body-text-color); }
#source mark.highlighted { color: #111827; padding: 1px 2px; border-radius: 3px; }
#source mark .label { font-size: 0.75em; font-weight: 600; margin-left: 2px; }
#source .heading { font-weight: 700; font-size: 1.15em; }
#source .md-mark { display: none; }
#source .page-mark {
  display: block; margin: 6px 0; color: var(--body-text-color-subdued); font-size: 0.8em;
  user-select: none;
}
#cite-request { display: none !important; }
#indexing progress { vertical-align: middle; margin-right: 6px; }
.abstained { color: var(--body-text-color-subdued); font-style: italic; }
.failed { color: var(--error-text-color, #b91c1c); }
.quote-place, .context { color: var(--body-text-color-subdued); }
.short { display: block; font-size: 1.1em; }
.drafting, .answer-note { color: var(--body-text-color-subdued); font-style: italic; }
.cite { cursor: pointer; }
#chat .copy-text { display: none; }
#chat button.copied { outline: 2px solid var(--color-accent); }
#source .source-gone { white-space: normal; color: var(--body-text-color-subdued); }
.cite:hover .quote { text-decoration: underline; }
q.opens-quoted::before { content: no-open-quote; }
q.closes-quoted::after { content: no-close-quote; }
@media (max-width: 720px) {
  #source .source-view { max-height: 45vh; }
}
"""

# Loaded in the page's <head>: whenever the server sends a new source view, its focused span
# is scrolled into the middle of the view (the view scrolls, not the page).
HEAD_JS = r"""
<script>
(() => {
  const focusSpan = (view, n) => {
    const mark = view.querySelector(`mark.highlighted[data-n="${n}"]`);
    if (!mark) return false;
    const box = view.getBoundingClientRect();
    const span = mark.getBoundingClientRect();
    const offset = span.top - box.top - Math.max(0, (view.clientHeight - span.height) / 2);
    view.scrollTop = view.scrollTop + offset;
    view.dataset.focus = String(n);
    return true;
  };
  const bringIntoSight = (view) => {
    const box = view.getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight * 0.6) {
      view.scrollIntoView({block: 'start'});
    }
  };
  // A new answer is shown from its start: the chat (which Gradio keeps scrolled to its end)
  // scrolls back to the answer's first line, and when that is out of the screen (on a phone
  // the chat sits above the source view) the page scrolls to it, never to the source view.
  const ANSWER_SETTLE_MS = 700;  // after Gradio's own scroll to the chat's end (300 ms on)
  const ANSWER_TOP_ROOM_PX = 40;
  let asked = false;  // a question was sent from this page (not a kept one shown on load)
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target.closest('#question')) asked = true;
  }, true);
  document.addEventListener('click', (event) => {
    if (event.target.closest && event.target.closest('#ask, #examples')) asked = true;
  }, true);
  const keepAnswerInSight = () => {
    const answers = document.querySelectorAll('#chat [data-testid="bot"]');
    const last = answers[answers.length - 1];
    if (!last) return;
    const chat = last.closest('.bubble-wrap');
    // The chat's label ("Conversation") covers the first pixels of its box.
    const box = chat && chat.getBoundingClientRect().top + ANSWER_TOP_ROOM_PX;
    const above = chat ? box - last.getBoundingClientRect().top : 0;
    if (above > 0) chat.scrollTop -= above;
    const top = last.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.8) window.scrollBy(0, top - 8);
  };
  // Gradio may update the view in place, so a new view is told by what it shows, not by node.
  const shown = (view) => `${view.dataset.doc}|${view.dataset.turn}|${view.dataset.focus}`;
  let seen = null;
  // Once the documents table changes, the view may show text no longer indexed (a removed
  // document): a click on [n] then asks the server again instead of using the view.
  const inTable = (node) => {
    const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    return Boolean(element && element.closest('#document-list'));
  };
  new MutationObserver((mutations) => {
    if (mutations.some((mutation) => inTable(mutation.target))) window.__docqaStale = true;
    const view = document.querySelector('#source .source-view');
    if (!view || shown(view) === seen) return;
    window.__docqaStale = false;
    const turn = seen && seen.split('|')[1];
    seen = shown(view);
    const n = Number(view.dataset.focus);
    if (n > 0) requestAnimationFrame(() => focusSpan(view, n));
    if (window.__docqaAsked === view.dataset.turn) {
      window.__docqaAsked = null;
      bringIntoSight(view);
    } else if (asked && view.dataset.turn !== turn && view.dataset.turn !== '-1') {
      asked = false;
      setTimeout(keepAnswerInSight, ANSWER_SETTLE_MS);
    }
  }).observe(document.documentElement, {childList: true, subtree: true, attributes: true,
                                         characterData: true,
                                         attributeFilter: ['data-turn', 'data-focus', 'data-doc']});
  // The page opens at its top, the chat in sight: the question box takes the focus only on
  // a wide screen, and without scrolling (autofocus would scroll a phone to the box).
  const focusBox = () => {
    const box = document.querySelector('#question textarea');
    if (!box) return requestAnimationFrame(focusBox);
    if (window.matchMedia('(min-width: 721px)').matches) box.focus({preventScroll: true});
  };
  addEventListener('load', focusBox);
  // The copy button copies plain text: an answer's own (its hidden .copy-text, as
  // Answer.as_text() gives it), else the message as shown; never the markup.
  const copyText = async (text) => {
    if (navigator.clipboard) return navigator.clipboard.writeText(text);
    const area = document.createElement('textarea');
    area.value = text;
    area.style.position = 'fixed';
    area.style.left = '-9999px';
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  };
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest(
      '#chat .message-buttons button[aria-label="Copy message"]');
    const row = button && button.closest('.message-buttons').previousElementSibling;
    const message = row && row.querySelector('[data-testid="bot"], [data-testid="user"]');
    if (!message) return;
    event.preventDefault();
    event.stopPropagation();  // Gradio's own handler would copy the markup
    const kept = message.querySelector('.copy-text');
    copyText(kept ? kept.textContent : message.innerText.trim()).then(() => {
      button.classList.add('copied');
      setTimeout(() => button.classList.remove('copied'), 2000);
    });
  }, true);
  window.docqaCite = {focusSpan, bringIntoSight};
})();
</script>
"""

# Run by the hidden #cite-request element: a click on [n] or its quote shows span n of that
# answer, at once when the view already shows that answer (and the documents have not changed
# since), else by sending "turn:n:time" to
# the server as this element's value (the chat's sanitiser keeps classes, not data
# attributes, so a quote is marked "cite turn-3 n-2").
CITE_CLICK_JS = r"""
document.addEventListener('click', (event) => {
  const cite = event.target.closest && event.target.closest('#chat .cite');
  const found = cite && cite.className.match(/\bturn-(\d+)\b.*\bn-(\d+)\b/);
  if (!found) return;
  event.preventDefault();
  const [turn, n] = [found[1], found[2]];
  const view = document.querySelector('#source .source-view');
  const fresh = view && !window.__docqaStale && view.dataset.turn === turn;
  if (fresh && window.docqaCite.focusSpan(view, n)) {
    window.docqaCite.bringIntoSight(view);
    return;
  }
  window.__docqaAsked = turn;
  props.value = `${turn}:${n}:${Date.now()}`;
  trigger('input');
}, true);
"""


def build_app(handlers: Handlers) -> gr.Blocks:
    """The Blocks app for `handlers.state`: chat, status, examples, the source view."""
    state = handlers.state
    documents = state.documents
    doc_ids = list(documents)
    first = doc_ids[0]
    with gr.Blocks(title="docqa: ask the documents") as app:
        intro = gr.Markdown(render.intro(documents), elem_id="intro")
        status = gr.Markdown(
            render.status_text(state.warm.is_set(), state.failure, documents, state.skipped),
            elem_id="status",
        )
        poll = gr.Timer(0.5, active=not state.warm.is_set())
        turns = gr.State([])
        saved = gr.BrowserState({"chat": [], "turns": []}, storage_key=CONVERSATION_KEY)
        with gr.Row(equal_height=False, elem_id="panes"):
            with gr.Column(scale=5, min_width=320):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="chat",
                    height=520,
                    sanitize_html=True,
                    render_markdown=True,
                    latex_delimiters=[],
                    buttons=["copy"],
                    feedback_options=("Like", "Dislike"),
                    placeholder="Ask a question below.",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder=render.placeholder(documents),
                        label="Question",
                        show_label=False,
                        container=False,
                        scale=8,
                        elem_id="question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                hint = gr.Markdown("", label="Hint", elem_id="hint")
                cite_request = gr.HTML("", elem_id=CITE_REQUEST_ID, js_on_load=CITE_CLICK_JS)
                clear = gr.Button("Clear the conversation", variant="secondary", size="sm")
            with gr.Column(scale=4, min_width=320):
                with gr.Accordion("Documents: add, list, remove", open=False, elem_id="documents"):
                    files = gr.File(
                        label=f"Add documents ({', '.join(allowed_types())}; at most "
                        f"{state.settings.max_file_mb} MB each)",
                        file_count="multiple",
                        file_types=allowed_types(),
                        elem_id="upload",
                    )
                    rows = document_rows(state.settings, documents, state.skipped)
                    table = gr.Dataframe(
                        render.shown_rows(rows),
                        headers=["Document", "Size", "Status"],
                        interactive=False,
                        elem_id="document-list",
                        wrap=True,
                        column_widths=["48%", "14%", "38%"],
                    )
                    with gr.Row():
                        to_remove = gr.Dropdown(
                            render.name_choices(removable(state.settings, rows)),
                            value=None,
                            label="Document to remove",
                            allow_custom_value=True,  # one gone since: the handler says so
                            scale=3,
                            elem_id="remove-choice",
                        )
                        remove = gr.Button("Remove", variant="stop", scale=1, elem_id="remove")
                    hidden = restorable(state.settings)
                    with gr.Row():
                        to_restore = gr.Dropdown(
                            render.name_choices(hidden),
                            value=None,
                            label="Removed from the index (your files are kept)",
                            allow_custom_value=True,
                            scale=3,
                            visible=bool(hidden),
                            elem_id="restore-choice",
                        )
                        restore = gr.Button(
                            "Restore", scale=1, visible=bool(hidden), elem_id="restore"
                        )
                    collection_note = gr.Markdown("", elem_id="collection-note")
                with gr.Row():
                    index_line = gr.HTML("", elem_id="indexing")
                    cancel = gr.Button(
                        "Cancel re-indexing",
                        variant="secondary",
                        size="sm",
                        visible=False,
                        scale=0,
                        elem_id="cancel-indexing",
                    )
                index_poll = gr.Timer(1.0, active=False)
                selector = gr.Dropdown(
                    render.name_choices(doc_ids),
                    value=first,
                    label="Document",
                    visible=len(doc_ids) > 1,
                    allow_custom_value=True,  # a removed document may still be shown
                    elem_id="document-choice",
                )
                source = gr.HTML(
                    render.source_html(documents[first]),
                    elem_id="source",
                    js_on_load=None,
                )
        example_box = None
        if state.examples:
            example_box = gr.Examples(
                list(state.examples), inputs=[box], label="Example questions", elem_id="examples"
            )

        chat_io: dict[str, Any] = {
            "fn": handlers.respond,
            "inputs": [box, chatbot, turns, selector],
            "outputs": [chatbot, box, hint, selector, source, turns],
            "show_progress": "minimal",
        }
        events = [
            box.submit(**chat_io, api_name="chat"),
            send.click(**chat_io, api_visibility="private"),
        ]
        if example_box is not None:
            events.append(example_box.load_input_event.then(**chat_io, api_visibility="private"))
        for event in events:
            event.then(_save, [chatbot, turns], saved, api_visibility="private")
        cite_request.input(
            handlers.show_citation,
            [cite_request, turns],
            [selector, source],
            api_visibility="private",
            show_progress="hidden",
        )
        selector.input(handlers.show_document, [selector, turns], source, api_visibility="private")
        for event in (clear.click, chatbot.clear):
            event(
                handlers.clear_chat,
                [selector],
                [chatbot, box, hint, source, turns],
                api_visibility="private",
            ).then(_save, [chatbot, turns], saved, api_visibility="private")
        view = [
            table,
            selector,
            to_remove,
            index_line,
            index_poll,
            intro,
            box,
            status,
            to_restore,
            restore,
            cancel,
        ]
        files.upload(
            handlers.upload, [files], [files, *view, collection_note], api_visibility="private"
        )
        remove.click(
            handlers.remove, [to_remove], [*view, collection_note], api_visibility="private"
        )
        restore.click(
            handlers.restore_document,
            [to_restore],
            [*view, collection_note],
            api_visibility="private",
        )
        cancel.click(handlers.cancel_reindex, None, view, api_visibility="private")
        index_poll.tick(handlers.collection, None, view, api_visibility="private")
        chatbot.like(handlers.record_vote, [turns], None, api_visibility="private")
        poll.tick(handlers.status, None, [status, poll], api_visibility="private")
        # The page as built shows the collection at start: on each load, and whenever
        # another process re-indexes, it is brought up to date.
        shown = gr.State("")
        watch = gr.Timer(WATCH_SECONDS)
        for event in (app.load, watch.tick):
            event(
                handlers.watch,
                [shown],
                [shown, *view],
                api_visibility="private",
                show_progress="hidden",
            )
        app.load(handlers.status, None, [status, poll], api_visibility="private")
        app.load(
            handlers.restore,
            [saved],
            [chatbot, turns, selector, source],
            api_visibility="private",
        )
        gr.api(handlers.ask, api_name="ask")
    return app


def _save(chat: list, turns: list) -> dict[str, list]:
    """What the browser keeps of the conversation, so a reload shows it again."""
    return {"chat": chat, "turns": turns}
