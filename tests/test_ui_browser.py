"""The web UI in a real Chromium: streaming, highlighting and scrolling to cited spans, escaping,
votes, copy, reload, a phone-sized screen, timings; screenshots go to evals/results/ui_*.png."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from rag.presentation import quote_marks
from tests.conftest import ARTICLE_ID
from tests.files import CHROMIUM, CHROMIUM_ARGS, pdf_from_html
from tests.ui_helpers import (
    EARLIER_QUESTION,
    FIRST_QUESTION,
    MARKUP,
    RunningApp,
    app_environment,
    launch_app,
)
from webui import render
from webui.collection import EXCLUDED_STATUS
from webui.layout import CONVERSATION_KEY

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "evals" / "results"  # git-ignored
WAIT_MS = 30_000  # the longest any element may take to appear
EXAMPLE = "Who is the US Secretary of State quoted in the piece?"  # an example to click on
# Cites the last paragraph of the article, far below the fold of the 600 px source view.
BELOW_THE_FOLD = EARLIER_QUESTION
# Two parts, two citations: [1] near the top of the article, [2] near its end.
TWO_PARTS = (
    "How many ballistic missiles did North Korea reportedly fire, and what steps did "
    "Donald Trump take towards North Korea?"
)

# Set up before a question is submitted: records, in page time, the Enter key press, the first
# text of the new answer, the answer complete (its quotes listed), and each distinct partial.
WATCH_ANSWER_JS = """
() => {
  const chat = document.querySelector('#chat');
  const before = chat.querySelectorAll('[data-testid="bot"]').length;
  const t = (window.__answer = {submit: null, first: null, full: null, partials: []});
  document.querySelector('#question textarea').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && t.submit === null) t.submit = performance.now();
  }, {capture: true});
  const look = () => {
    const bots = chat.querySelectorAll('[data-testid="bot"]');
    if (bots.length <= before) return;
    const last = bots[bots.length - 1];
    const text = last.innerText.trim();
    if (!text) return;
    if (t.first === null) t.first = performance.now();
    if (t.partials[t.partials.length - 1] !== text) t.partials.push(text);
    if (t.full === null && last.querySelector('.cite')) t.full = performance.now();
  };
  new MutationObserver(look).observe(chat, {subtree: true, childList: true, characterData: true});
}
"""

timings: dict[str, float | str] = {}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """One `python ui.py`; writes the timings gathered by this module when it stops."""
    with launch_app(tmp_path_factory.mktemp("ui-browser")) as running:
        timings["startup_to_url_s"] = round(running.up_after, 3)
        yield running
        log = running.log_path.read_text(encoding="utf-8")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ui_timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"\nUI timings (also in {RESULTS / 'ui_timings.json'}):")
    for name, value in timings.items():
        print(f"  {name}: {value}")
    assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install it with `make chromium`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def dialogs() -> list[str]:
    """Messages of every alert/confirm/prompt the page opened (there should be none)."""
    return []


READY_MS = 180_000  # loading the model on a busy 2-core machine


@pytest.fixture(scope="module")
def page(app: RunningApp, browser: Browser, dialogs: list[str]) -> Iterator[Page]:
    """The app's page, loaded and saying it is ready."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.set_default_timeout(WAIT_MS)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(app.url, wait_until="load")
    # The model and index load behind the page; the status line says when they have.
    expect(page.locator("#status")).to_contain_text("Ready", timeout=READY_MS)
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#question textarea")).to_be_editable()
    expect(page.locator("#source .source-view")).to_be_visible()
    timings["startup_to_page_ready_s"] = round(time.perf_counter() - app.started, 3)
    yield page
    page.close()


def _ask(page: Page, question: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")


def test_answer_streams_and_its_quote_is_highlighted(page: Page, article_text: str) -> None:
    page.evaluate(WATCH_ANSWER_JS)
    _ask(page, FIRST_QUESTION)
    page.wait_for_function("() => window.__answer.full !== null", timeout=WAIT_MS)
    watched = page.evaluate("window.__answer")
    timings["question"] = FIRST_QUESTION
    timings["submit_to_first_text_s"] = round((watched["first"] - watched["submit"]) / 1000, 3)
    timings["submit_to_full_answer_s"] = round((watched["full"] - watched["submit"]) / 1000, 3)
    print(
        f"\nsubmit → first text {timings['submit_to_first_text_s']} s, "
        f"→ full answer {timings['submit_to_full_answer_s']} s "
        f"({len(watched['partials'])} partial renders)"
    )
    assert len(watched["partials"]) > 2, "the answer arrived in one piece, not streamed"

    reply = page.locator("#chat [data-testid='bot']").last
    expect(reply).to_contain_text("two ballistic missiles")
    expect(reply.locator("strong.short")).to_have_text("Two")  # the direct answer, in bold
    place = re.search(r"\[1\].*?characters (\d+)–(\d+)", reply.inner_text(), re.S)
    assert place, reply.inner_text()
    start, end = int(place.group(1)), int(place.group(2))

    marked = page.locator("#source .highlighted")
    expect(marked.first).to_be_visible()
    assert marked.first.locator(".text").inner_text() == article_text[start:end]
    assert marked.first.locator(".label").inner_text() == "[1]"
    # The quote starts mid-line in the source, so it runs on from the line before it.
    assert article_text[start - 1] != "\n"
    lines = marked.first.evaluate(
        """mark => {
          const range = document.createRange();
          const before = mark.previousSibling;
          range.setStart(before, before.length - 1);
          range.setEnd(before, before.length);
          return [range.getClientRects()[0].top, mark.getClientRects()[0].top];
        }"""
    )
    assert abs(lines[0] - lines[1]) < 4, lines
    assert ARTICLE_ID in page.locator("#source").inner_text()
    _screenshot(page, "ui_answer.png")


def _screenshot(page: Page, name: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / name), full_page=True)


# True when span n's highlight lies inside the source view's visible box.
SPAN_IN_VIEW_JS = """
n => {
  const view = document.querySelector('#source .source-view');
  const mark = view && view.querySelector(`mark.highlighted[data-n="${n}"]`);
  if (!mark) return false;
  const box = view.getBoundingClientRect(), span = mark.getBoundingClientRect();
  return span.top >= box.top && span.bottom <= box.bottom && span.height > 0;
}
"""


def _span_in_view(page: Page, n: int) -> bool:
    return page.evaluate(SPAN_IN_VIEW_JS, n)


def _wait_span_in_view(page: Page, n: int) -> None:
    page.wait_for_function(SPAN_IN_VIEW_JS, arg=n, timeout=WAIT_MS)


def _answered(page: Page, question: str) -> None:
    """Ask `question` and wait for its answer's quotes and the view showing its spans."""
    answers = page.locator("#chat [data-testid='bot']").count()
    _ask(page, question)
    expect(page.locator("#chat [data-testid='bot']")).to_have_count(answers + 1)
    expect(page.locator("#chat [data-testid='bot']").last.locator(".cite").first).to_be_visible()
    expect(page.locator("#source .source-view")).to_have_attribute("data-turn", _turn(page, -1))


def _turn(page: Page, nth: int) -> str:
    """The number of the nth answer's turn, from its citations' classes ("cite turn-3 n-1")."""
    cite = page.locator("#chat [data-testid='bot']").nth(nth).locator(".cite").first
    return re.search(r"turn-(\d+)", cite.get_attribute("class") or "").group(1)


def _click_words(page: Page, words: Locator) -> None:
    """Click the middle of the longest line of `words`, as a reader clicks a quote that starts
    mid-line (the centre of its box may lie between its lines, on other words)."""
    words.scroll_into_view_if_needed()
    x, y, hit = words.evaluate(
        """e => {
          const r = [...e.getClientRects()].sort((a, b) => b.width - a.width)[0];
          const x = r.x + r.width / 2, y = r.y + r.height / 2;
          const at = document.elementFromPoint(x, y);
          return [x, y, at === e || e.contains(at) ? '' : (at ? at.outerHTML.slice(0, 120) : '')];
        }"""
    )
    assert not hit, f"something else is where the words are: {hit}"
    page.mouse.click(x, y)


def test_a_cited_span_below_the_fold_is_scrolled_into_view(page: Page) -> None:
    started = time.perf_counter()
    _answered(page, BELOW_THE_FOLD)
    view = page.locator("#source .source-view")
    # Below the fold: unscrolled, the span would lie under the view's bottom edge.
    below = view.evaluate(
        """view => view.querySelector('mark.highlighted').offsetTop > view.clientHeight
                    || view.querySelector('mark.highlighted').getBoundingClientRect().top
                       - view.getBoundingClientRect().top + view.scrollTop > view.clientHeight"""
    )
    assert below, "the question's span is not below the fold: the test proves nothing"
    _wait_span_in_view(page, 1)
    timings["submit_to_span_in_view_s"] = round(time.perf_counter() - started, 3)
    assert view.evaluate("view => view.scrollTop") > 0
    _screenshot(page, "ui_scrolled_to_span.png")


def test_clicking_a_citation_number_brings_its_span_into_view(page: Page) -> None:
    _answered(page, TWO_PARTS)
    reply = page.locator("#chat [data-testid='bot']").last
    expect(reply.locator(".cite")).to_have_count(2)
    _wait_span_in_view(page, 1)
    assert not _span_in_view(page, 2), "[2] is in view already: the click proves nothing"
    started = time.perf_counter()
    reply.locator(".cite.n-2 .cite-n").click()
    _wait_span_in_view(page, 2)
    timings["click_to_span_in_view_s"] = round(time.perf_counter() - started, 3)
    _screenshot(page, "ui_clicked_citation_2.png")

    # [1] of the answer before: the server sends that answer's spans, and [1] comes into view.
    earlier = page.locator("#chat [data-testid='bot']").nth(-2).locator(".cite.n-1")
    _click_words(page, earlier.locator(".quote"))
    expect(page.locator("#source .source-view")).to_have_attribute("data-turn", _turn(page, -2))
    _wait_span_in_view(page, 1)
    assert "Donald Trump" in page.locator("#source mark.highlighted").first.inner_text()


def _copied(page: Page, nth: int) -> str:
    """What the copy button of the nth chat message puts on the clipboard."""
    page.evaluate("navigator.clipboard.writeText('')")
    page.locator("#chat .message-row").nth(nth).hover()
    page.locator("#chat .message-buttons button[aria-label='Copy message']").nth(nth).click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()) !== ''")
    return page.evaluate("navigator.clipboard.readText()")


def test_copy_gives_the_answer_as_plain_text(page: Page, article_text: str) -> None:
    """It copied the chat's markup ("<span class='cite turn-16 n-1' ..."); it copies the
    answer, each quote and its citation, as `docqa ask` prints them, and the question as
    asked."""
    _answered(page, TWO_PARTS)
    copied = _copied(page, -1)
    assert "<" not in copied and "\\" not in copied and "class=" not in copied, copied
    places = re.findall(
        rf"^\[(\d)\] (.*)\n    {re.escape(ARTICLE_ID)}, characters (\d+)–(\d+)$", copied, re.M
    )
    cited = page.locator("#chat [data-testid='bot']").last.locator(".cite")
    assert (
        [number for number, *_ in places]
        == ["1", "2"]
        == [str(n + 1) for n in range(cited.count())]
    )
    for _number, shown, start, end in places:
        assert shown == quote_marks(article_text[int(start) : int(end)], ellipses=False)
    assert _copied(page, -2) == TWO_PARTS


def test_markup_in_a_question_is_shown_as_text(page: Page, dialogs: list[str]) -> None:
    _ask(page, MARKUP)
    asked = page.locator("#chat [data-testid='user']").filter(has_text=MARKUP)
    expect(asked).to_have_count(1)
    expect(page.locator("#chat [data-testid='bot']").last).to_contain_text("does not say")
    page.wait_for_timeout(300)  # time for an onerror handler to fire, if one were there
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#chat img").count() == 0
    assert dialogs == []


def test_an_empty_message_only_shows_a_hint(page: Page) -> None:
    before = page.locator("#chat [data-testid='user']").count()
    _ask(page, "   ")
    expect(page.locator("#hint")).to_contain_text("Type a question")
    assert page.locator("#chat [data-testid='user']").count() == before


def test_a_vote_is_appended_to_the_feedback_file(page: Page, app: RunningApp) -> None:
    page.locator("#chat [data-testid='bot']").first.hover()
    page.locator("#chat button[aria-label='Like']").first.click()
    deadline = time.monotonic() + 10
    while not app.feedback_path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    records = [json.loads(line) for line in app.feedback_path.read_text().splitlines()]
    assert records[-1]["vote"] == "up"
    assert records[-1]["question"] == FIRST_QUESTION
    assert records[-1]["citations"][0]["doc_id"] == ARTICLE_ID
    assert set(records[-1]) == {"time", "question", "answer", "citations", "vote"}


def _clear(page: Page) -> None:
    page.get_by_role("button", name="Clear the conversation").click()
    expect(page.locator("#chat [data-testid='user']")).to_have_count(0)
    expect(page.locator("#source .highlighted")).to_have_count(0)


def test_an_example_question_is_asked_and_clear_empties_the_chat(page: Page) -> None:
    _clear(page)
    page.get_by_text(EXAMPLE).click()
    expect(page.locator("#chat [data-testid='user']")).to_have_count(1)
    expect(page.locator("#chat [data-testid='user']").last).to_contain_text(EXAMPLE)
    expect(page.locator("#chat [data-testid='bot']")).to_have_count(1)
    # The answer streams; it is complete once its quotes are listed and shown in the source.
    expect(page.locator("#chat [data-testid='bot']").last.locator(".cite").first).to_be_visible()
    expect(page.locator("#source .source-view")).to_have_attribute("data-turn", _turn(page, -1))
    expect(page.locator("#chat [data-testid='bot']").last).not_to_contain_text(render.ERROR_MARK)
    _clear(page)


def test_an_example_question_is_answered(page: Page) -> None:
    _clear(page)
    page.get_by_text(EXAMPLE).click()
    expect(page.locator("#chat [data-testid='bot']").last).to_contain_text("Antony Blinken")
    expect(page.locator("#source .highlighted").first).to_contain_text("Antony Blinken")
    _screenshot(page, "ui_example.png")


def test_a_reload_keeps_the_conversation(page: Page, app: RunningApp) -> None:
    kept = f"() => localStorage.getItem('{CONVERSATION_KEY}')"
    before = page.evaluate(kept)
    _answered(page, FIRST_QUESTION)
    asked = page.locator("#chat [data-testid='user']").all_inner_texts()
    # The browser keeps the conversation once the answer is complete.
    page.wait_for_function(f"before => ({kept})() !== before", arg=before)
    page.reload(wait_until="load")
    expect(page.locator("#status")).to_contain_text("Ready")
    expect(page.locator("#chat [data-testid='user']")).to_have_count(len(asked))
    assert page.locator("#chat [data-testid='user']").all_inner_texts() == asked
    expect(page.locator("#chat [data-testid='bot']").last).to_contain_text("two ballistic")
    # Its citations still work: a click on [1] shows the span.
    _click_words(page, page.locator("#chat [data-testid='bot']").last.locator(".cite.n-1 .quote"))
    _wait_span_in_view(page, 1)
    _screenshot(page, "ui_after_reload.png")


def test_on_a_phone_the_quote_is_under_its_answer(app: RunningApp, browser: Browser) -> None:
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.set_default_timeout(WAIT_MS)
    try:
        phone.goto(app.url, wait_until="load")
        expect(phone.locator("#status")).to_contain_text("Ready", timeout=READY_MS)
        # It opened scrolled to the question box (scrollY 1035 of 1879), the chat above it.
        assert phone.evaluate("scrollY") == 0
        assert 0 < phone.locator("#chat").bounding_box()["y"] < 844 / 2
        # The box at the top of the screen, as typing on a phone leaves it: the answer lands
        # in the chat above, and the page brings it into sight, not the source view.
        phone.locator("#question").evaluate("box => box.scrollIntoView({block: 'start'})")
        _answered(phone, TWO_PARTS)  # taller than the chat's box on a phone
        reply = phone.locator("#chat [data-testid='bot']").last
        quote = reply.locator(".cite .quote").first
        phone.wait_for_timeout(1500)  # any scrolling after the answer has happened
        answer_box, quote_box = reply.bounding_box(), quote.bounding_box()
        assert answer_box and quote_box
        assert 0 <= answer_box["y"] < 844 / 2, answer_box
        # Its first line, not only its end, is in sight inside the chat's own scrolling box.
        assert answer_box["y"] >= phone.locator("#chat .bubble-wrap").bounding_box()["y"] - 1
        assert 0 <= quote_box["y"] - answer_box["y"] < 844, (answer_box, quote_box)
        _screenshot(phone, "ui_phone_answer.png")
        _click_words(phone, quote)  # opens the source view at the span
        _wait_span_in_view(phone, 1)
        top = phone.locator("#source .source-view").evaluate(
            "view => view.getBoundingClientRect().top"
        )
        assert 0 <= top < 844 * 0.6, top
        phone.screenshot(path=str(RESULTS / "ui_phone_source.png"))
    finally:
        phone.close()


HARBOUR = """Harbour report

The harbour master of Port Elling said on Tuesday that the new lighthouse would open in June. \
<img src=x onerror=alert(1)> Workers painted the tower white and red over the winter.

The lighthouse keeper, Mara Lindqvist, said the lamp can be seen from twenty-two miles away on \
a clear night.
"""
GLACIER = (
    "<html><body><h1>Glacier survey</h1><p>The survey team from Tromvik University measured "
    "the Blue Glacier in August.</p><p>The team said the glacier retreated forty metres since "
    "the previous survey, the largest loss on record.</p><p>Professor Ilse Navarro led the "
    "expedition with eleven students.</p></body></html>"
)
TXT_QUESTION = "When would the new lighthouse open?"
PDF_QUESTION = "How many students went on the expedition?"


def _choose(page: Page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def _wait_indexed(page: Page) -> None:
    expect(page.locator("#indexing")).to_contain_text("Indexed", timeout=READY_MS)


def test_uploaded_documents_are_answered_and_a_removed_one_is_not(
    page: Page, tmp_path_factory: pytest.TempPathFactory, dialogs: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("uploads")
    txt = folder / "harbour report.txt"
    txt.write_text(HARBOUR, encoding="utf-8")
    (folder / "glacier.html").write_text(GLACIER, encoding="utf-8")
    pdf = pdf_from_html(folder / "glacier.html", folder / "glacier-survey.pdf")
    notes = folder / "notes.md"
    notes.write_text("# Lighthouse notes\n\nThe lamp was made in Sweden.\n", encoding="utf-8")

    page.get_by_text("Documents: add, list, remove").click()
    started = time.perf_counter()
    page.locator("#upload input[type='file']").set_input_files([str(txt), str(pdf), str(notes)])
    expect(page.locator("#collection-note")).to_contain_text("re-indexing")
    _wait_indexed(page)
    expect(page.locator("#intro")).to_contain_text("Ask a question about the documents.")
    expect(page.locator("#status")).to_contain_text("Ready: 4 documents")
    timings["upload_to_indexed_s"] = round(time.perf_counter() - started, 3)
    listed = page.locator("#document-list")
    expect(listed).to_contain_text("harbour report.txt")
    expect(listed).to_contain_text("glacier-survey.pdf")
    _choose(page, "#document-choice", "uploads/notes.md")  # a heading, without its "#"
    expect(page.locator("#source .heading")).to_have_text("Lighthouse notes", use_inner_text=True)
    expect(page.locator("#source .source-view")).not_to_contain_text("#", use_inner_text=True)
    _screenshot(page, "ui_uploaded.png")

    _answered(page, TXT_QUESTION)
    reply = page.locator("#chat [data-testid='bot']").last
    # What this checks is that the upload is answered from; which date the reader takes for
    # the short answer is the reader's business (test_chain), so the quote is checked.
    expect(reply.locator(".quote")).to_contain_text("would open in June")
    expect(reply.locator(".quote-place")).to_contain_text("harbour report.txt")
    source = page.locator("#source")
    expect(source.locator(".source-name")).to_have_text("uploads/harbour report.txt")
    expect(source.locator("mark.highlighted").first).to_contain_text(
        "<img src=x onerror=alert(1)>"  # the document's markup, shown as its text
    )
    page.wait_for_timeout(300)  # time for an onerror handler to fire, if one were there
    assert page.locator("#source img, #chat img").count() == 0
    assert dialogs == []

    _answered(page, PDF_QUESTION)
    reply = page.locator("#chat [data-testid='bot']").last
    expect(reply.locator("strong.short")).to_have_text("Eleven")
    expect(reply.locator(".quote-place")).to_contain_text("glacier-survey.pdf, page 1")
    expect(source.locator(".source-name")).to_have_text("uploads/glacier-survey.pdf")
    _screenshot(page, "ui_pdf_answer.png")

    _choose(page, "#remove-choice", "uploads/glacier-survey.pdf")
    page.locator("#remove").click()
    expect(page.locator("#collection-note")).to_contain_text(
        "Removed uploads/glacier-survey.pdf (docqa's copy of the upload is deleted)"
    )
    _wait_indexed(page)
    expect(listed).not_to_contain_text("glacier-survey.pdf")
    answers = page.locator("#chat [data-testid='bot']").count()
    _ask(page, PDF_QUESTION)
    expect(page.locator("#chat [data-testid='bot']")).to_have_count(answers + 1)
    last = page.locator("#chat [data-testid='bot']").last
    expect(last).not_to_contain_text("Eleven")
    assert "glacier-survey.pdf" not in last.inner_text()
    _screenshot(page, "ui_removed.png")


def _row(page: Page, name: str) -> Locator:
    """The documents table's row of `name`."""
    return page.locator("#document-list").get_by_role(
        "row", name=re.compile(f"^{re.escape(name)} ")
    )


def _open_documents(page: Page) -> None:
    if not page.locator("#upload").is_visible():
        page.get_by_text("Documents: add, list, remove").click()


def test_a_reload_shows_the_current_collection(page: Page) -> None:
    """After uploads, a reload showed the collection the server started with: the seed
    article alone in the table and the remove list, no document picker, and the intro and
    the question box naming the article."""
    page.reload(wait_until="load")
    expect(page.locator("#status")).to_contain_text("Ready: 3 documents")
    _open_documents(page)
    listed = page.locator("#document-list")
    for name in ("uploads/harbour report.txt", "uploads/notes.md", ARTICLE_ID):
        expect(listed).to_contain_text(name)
    expect(page.locator("#document-choice")).to_be_visible()
    expect(page.locator("#intro")).to_contain_text("Ask a question about the documents.")
    placeholder = page.locator("#question textarea")
    expect(placeholder).to_have_attribute("placeholder", re.compile("^Ask about the documents"))
    page.locator("#remove-choice input").click()
    expect(page.get_by_role("option", name="uploads/notes.md", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    _screenshot(page, "ui_reload_collection.png")


def test_removing_a_source_file_hides_it_and_never_deletes_it(
    page: Page, app: RunningApp, article_text: str
) -> None:
    """Remove deleted the user's own file. Now a file of the source folder is left out of the
    index, listed with a way to restore it, and stays on disk; a click on a citation of it
    says it was removed, never showing another document; Restore indexes it again."""
    article = app.log_path.parent / "sources" / ARTICLE_ID
    _answered(page, FIRST_QUESTION)
    reply = page.locator("#chat [data-testid='bot']").last
    expect(reply.locator(".quote-place").first).to_contain_text(ARTICLE_ID)
    _open_documents(page)
    _choose(page, "#remove-choice", ARTICLE_ID)
    page.locator("#remove").click()
    expect(page.locator("#collection-note")).to_contain_text(
        f"Removed {ARTICLE_ID} from the index (your file stays in the source folder)"
    )
    _wait_indexed(page)
    assert article.read_text(encoding="utf-8") == article_text
    row = _row(page, ARTICLE_ID)
    expect(row).to_contain_text(EXCLUDED_STATUS)
    expect(page.locator("#restore-choice")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Ready: 2 documents")
    _screenshot(page, "ui_removed_source_file.png")

    reply.locator(".cite.n-1 .cite-n").click()
    source = page.locator("#source")
    expect(source).to_contain_text("This document was removed after the answer was given")
    expect(source.locator(".source-name")).to_have_text(ARTICLE_ID)
    assert source.locator("mark.highlighted").count() == 0
    assert len(source.inner_text()) < 300, "no document's text is shown in its place"
    _screenshot(page, "ui_citation_of_removed.png")

    _choose(page, "#restore-choice", ARTICLE_ID)
    page.locator("#restore").click()
    expect(page.locator("#collection-note")).to_contain_text(f"Restored {ARTICLE_ID}")
    _wait_indexed(page)
    expect(row).to_contain_text("indexed")
    expect(page.locator("#restore-choice")).to_be_hidden()
    reply.locator(".cite.n-1 .cite-n").click()  # the earlier answer's span is there again
    _wait_span_in_view(page, 1)


def test_a_re_index_can_be_cancelled_and_a_waiting_file_removed(
    page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A long re-index has a Cancel button; once cancelled, the previous index keeps serving,
    the new file waits for the next index, and it can be removed (it was not a choice)."""
    folder = tmp_path_factory.mktemp("long-upload")
    timetable = folder / "timetable.txt"
    sentences = (f"Ferry {n} leaves the harbour at {n % 12 + 1} o'clock." for n in range(20_000))
    timetable.write_text(" ".join(sentences), encoding="utf-8")

    _open_documents(page)
    page.locator("#upload input[type='file']").set_input_files([str(timetable)])
    expect(page.locator("#collection-note")).to_contain_text("Added uploads/timetable.txt")
    cancel = page.locator("#cancel-indexing")
    expect(cancel).to_be_visible()
    expect(page.locator("#indexing progress[max]")).to_be_visible(timeout=READY_MS)  # embedding
    cancel.click()
    # It stops once the block of sentences being embedded is done (1,024 at the defaults).
    expect(page.locator("#indexing")).to_contain_text("Re-indexing was cancelled", timeout=READY_MS)
    expect(cancel).to_be_hidden()
    listed = page.locator("#document-list")
    expect(listed).to_contain_text("waiting for the index")
    _answered(page, FIRST_QUESTION)  # from the previous index
    _screenshot(page, "ui_cancelled.png")

    _choose(page, "#remove-choice", "uploads/timetable.txt")
    page.locator("#remove").click()
    expect(page.locator("#collection-note")).to_contain_text("Removed uploads/timetable.txt")
    _wait_indexed(page)
    expect(listed).not_to_contain_text("timetable.txt")


def test_an_upload_with_a_taken_name_is_stored_beside_it_and_not_left_to_download(
    page: Page, app: RunningApp, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Uploading a file named like an earlier upload stores it under a numbered name, says
    so, and Gradio's temporary copy of it is gone: its file route no longer serves it."""
    folder = tmp_path_factory.mktemp("same-name")
    first = folder / "ferry log.txt"
    first.write_text("The island ferry left the harbour at noon.", encoding="utf-8")
    (folder / "again").mkdir()
    upload = folder / "again" / "FERRY LOG.TXT"  # the same name, as the eye reads it
    upload.write_text("The island ferry came back at six.", encoding="utf-8")
    _open_documents(page)
    page.locator("#upload input[type='file']").set_input_files([str(first)])
    expect(page.locator("#collection-note")).to_contain_text("Added uploads/ferry log.txt;")
    _wait_indexed(page)
    copies: list[str] = []

    def collect(response) -> None:
        if response.url.endswith("/gradio_api/upload") or "/gradio_api/upload?" in response.url:
            copies.extend(response.json())

    page.on("response", collect)
    page.locator("#upload input[type='file']").set_input_files([str(upload)])
    stored = "uploads/FERRY LOG (2).txt"
    expect(page.locator("#collection-note")).to_contain_text(
        f"{upload.name} as {stored} (that name was taken)"
    )
    page.remove_listener("response", collect)
    assert copies, "the page uploaded nothing"
    for copy in copies:
        served = page.request.get(f"{app.url}gradio_api/file={copy}")
        assert served.status >= 400, (copy, served.status)
    _wait_indexed(page)
    listed = page.locator("#document-list")
    expect(listed).to_contain_text(stored)
    _choose(page, "#remove-choice", stored)
    page.locator("#remove").click()
    expect(page.locator("#collection-note")).to_contain_text(f"Removed {stored}")
    _wait_indexed(page)
    expect(listed).not_to_contain_text(stored)
    expect(listed).to_contain_text("uploads/ferry log.txt")


FERRY = "Ferry notice\n\nThe island ferry left the harbour at noon on Friday, the port said.\n"
FERRY_QUESTION = "When did the island ferry leave the harbour?"


def test_a_re_index_by_another_process_is_shown_without_a_reload(
    page: Page, app: RunningApp
) -> None:
    """`docqa index` run elsewhere after a file is added to the source folder: the open page
    lists it, and the status line counts it, within a few seconds, and answers from it.
    Last in this module: once, the UI's own next re-index after another process had written
    the embedded index failed in Chroma ("Error in compaction"), which is the store's to fix."""
    folder = app.log_path.parent
    count = int(re.search(r"Ready: (\d+) document", page.locator("#status").inner_text()).group(1))
    (folder / "sources" / "ferry.txt").write_text(FERRY, encoding="utf-8")
    env = app_environment(folder, int(app.url.rstrip("/").rsplit(":", 1)[1]))
    done = subprocess.run(
        [str(Path(sys.executable).with_name("docqa")), "index"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    _open_documents(page)
    expect(_row(page, "ferry.txt")).to_contain_text("indexed", timeout=WAIT_MS)
    expect(page.locator("#status")).to_contain_text(f"Ready: {count + 1} documents")
    _answered(page, FERRY_QUESTION)
    expect(page.locator("#source .source-name")).to_have_text("ferry.txt")
