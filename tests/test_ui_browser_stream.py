"""A language model's answer in a real Chromium: the reply streams into the bubble, the
verified text replaces the draft (a dropped sentence leaves a note), and its citation is
highlighted in the source view. The app runs in this process so that its DocQA can be given
a fake chat model (langchain-core's, slowed so its words arrive one by one); the engine, its
index and the page are real. A screenshot goes to evals/results/ui_stream.png."""

from __future__ import annotations

import itertools
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from playwright.sync_api import expect, sync_playwright

from rag.chain import DocQA
from tests.files import CHROMIUM, CHROMIUM_ARGS
from tests.servers import free_port
from tests.test_ui_browser import WATCH_ANSWER_JS
from webui.feedback import FeedbackLog
from webui.handlers import Handlers
from webui.layout import CSS, HEAD_JS, build_app
from webui.state import AppState

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "evals" / "results" / "ui_stream.png"  # git-ignored
WAIT_MS = 60_000
QUESTION = "How many ballistic missiles did North Korea reportedly fire?"
# A sentence passage 1 supports, then one that cites nothing.
REPLY = (
    "North Korea reportedly fired two ballistic missiles early Friday [1]. "
    "The launch was a great success for the country."
)
WORD_SECONDS = 0.12  # between the fake model's words, so the page shows them arriving


class _SlowModel(GenericFakeChatModel):
    """langchain-core's fake chat model, one word every WORD_SECONDS."""

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for chunk in super()._stream(*args, **kwargs):
            time.sleep(WORD_SECONDS)
            yield chunk


@pytest.fixture(scope="module")
def url(docqa: DocQA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the seed article, its DocQA answering through the slow fake model."""
    engine = DocQA(docqa.settings, chat_model=_SlowModel(messages=itertools.cycle([REPLY])))
    folder = tmp_path_factory.mktemp("ui-stream")
    state = AppState(docqa.settings, docqa.corpus.documents, FeedbackLog(folder / "f.jsonl"))
    state.engine = engine
    state.warm_up()
    app = build_app(Handlers(state))
    app.queue()
    port = free_port()
    app.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        css=CSS,
        head=HEAD_JS,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        app.close()


def test_a_streamed_answer_is_verified_and_its_citation_highlighted(
    url: str, article_text: str
) -> None:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install it with `make chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        page.goto(url, wait_until="load")
        expect(page.locator("#status")).to_contain_text("Ready", timeout=WAIT_MS)
        expect(page.locator("#chat")).to_be_visible()
        expect(page.locator("#question textarea")).to_be_editable()
        page.evaluate(WATCH_ANSWER_JS)
        box = page.locator("#question textarea")
        box.fill(QUESTION)
        box.press("Enter")
        reply = page.locator("#chat [data-testid='bot']").last
        expect(reply.locator(".generated .cite")).to_have_count(1, timeout=WAIT_MS)
        partials = page.evaluate("window.__answer.partials")
        # The draft came word by word and showed the sentence the verifier then dropped.
        drafts = [text for text in partials if "Writing" in text]
        assert len(drafts) > 2 and any("great success" in text for text in partials), partials
        expect(reply).not_to_contain_text("great success")
        expect(reply).to_contain_text("1 sentence dropped: no valid citation")
        expect(reply.locator(".generated")).to_contain_text("two ballistic missiles")
        # Its citation, verified, is highlighted in the source view.
        mark = page.locator("#source mark.highlighted[data-n='1']")
        expect(mark).to_be_visible()
        place = re.search(r"characters (\d+)–(\d+)", reply.inner_text())
        assert place, reply.inner_text()
        start, end = int(place.group(1)), int(place.group(2))
        assert mark.locator(".text").inner_text() == article_text[start:end]
        assert "two ballistic missiles" in article_text[start:end]
        reply.locator(".generated .cite").click()  # [1] in the sentence shows span 1
        expect(page.locator("#source .source-view")).to_have_attribute("data-focus", "1")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)
        browser.close()
