"""Reading real HTML, PDF and Word files (PDFs printed by Chromium): the text a reader sees,
with pages and headings; every file that cannot be read is skipped with its reason."""

from __future__ import annotations

import logging
import os
import re
import shutil
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from rag.chain import DocQA
from rag.chunking import MAX_SENTENCE_CHARS
from rag.documents import describe_skipped, load_sources
from rag.errors import ExtractionError, SettingsError
from rag.extract import BLOCK_BREAK, Limits, extract
from rag.settings import Settings
from rag.types import Document
from tests.conftest import ARTICLE_ID, SEEDS
from tests.files import (
    NAV_TEXT,
    SCRIPT_TEXT,
    STYLE_TEXT,
    TABLE,
    bad_font_pdf,
    broken_xml_docx,
    corrupt_docx,
    corrupt_pdf,
    deep_html,
    docx_file,
    encrypted_pdf,
    html_page,
    image_only_pdf,
    many_page_pdf,
    owner_locked_pdf,
    pdf_from_html,
    zip_bomb_docx,
)

# The PDF: printed from an HTML page whose every h2 starts a new page, so each paragraph
# after the first heading sits on its own page.
PDF_TITLE = "Harbour almanac (browser tab title)"
PDF_HEADINGS = ("Harbour history", "The keeper", "The fleet")
PDF_PARAGRAPHS = (
    "The harbour office opened in 1892 and its officers kept a careful logbook of every ship.",
    "The lighthouse keeper, Ada Morrow, rang the bell at 6 a.m. every Sunday.",
    "Fishing boats returned before the fog settled over the grey water of the bay.",
)
PDF_FACT = PDF_PARAGRAPHS[1]

HTML_TITLE = "Glassworks | Museum site"
HTML_HEADINGS = ("The glassworks", "Lanterns")
HTML_PARAGRAPHS = (
    "The glassworks stood beside the canal and employed forty people in its busiest years.",
    "The glassblower Tomas Varga built the green lantern in 1911 for the northern pier.",
)
HTML_FACT = HTML_PARAGRAPHS[1]
HTML_TABLE = (("Lantern", "Colour"), ("Northern pier", "Green"))

DOCX_TITLE = "Ferry report"
DOCX_PARAGRAPHS = (
    "The ferry service between the islands began after the old bridge was closed.",
    "The ferry captain, Ines Holloway, crossed the strait with eighteen passengers in March.",
)
DOCX_FACT = DOCX_PARAGRAPHS[1]
DOCX_TABLE = (("Vessel", "Seats"), ("Morning ferry", "120"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every real file the tests read, made once: Chromium printing is slow-ish."""
    folder = tmp_path_factory.mktemp("built")
    page = html_page(
        folder / "glassworks.html", HTML_TITLE, HTML_PARAGRAPHS, HTML_HEADINGS, HTML_TABLE
    )
    pdf_source = html_page(folder / "almanac.html", PDF_TITLE, PDF_PARAGRAPHS, PDF_HEADINGS)
    pdf = pdf_from_html(pdf_source, folder / "almanac.pdf")
    return {
        "html": page,
        "pdf": pdf,
        "docx": docx_file(folder / "ferry.docx", DOCX_TITLE, DOCX_PARAGRAPHS, DOCX_TABLE),
        "encrypted": encrypted_pdf(pdf, folder / "encrypted.pdf"),
        "image_only": image_only_pdf(folder / "scan.pdf"),
    }


def _headings(document: Document) -> list[str]:
    return [document.text[start:end] for start, end in document.headings]


# -- HTML ------------------------------------------------------------------------------------


def test_html_text_is_what_a_reader_sees(built: dict[str, Path]) -> None:
    text = extract(built["html"], "glassworks.html").text
    for paragraph in HTML_PARAGRAPHS:  # whole: the <b>, the <a> and the newlines joined
        assert f"{BLOCK_BREAK}{paragraph}{BLOCK_BREAK}" in f"{BLOCK_BREAK}{text}{BLOCK_BREAK}"
    for hidden in (SCRIPT_TEXT, "not a paragraph", STYLE_TEXT, "border", HTML_TITLE, "Museum"):
        assert hidden not in text
    for cell in (cell for row in HTML_TABLE for cell in row):
        assert cell in text
    assert " ".join(NAV_TEXT) in text.split(BLOCK_BREAK)  # the menu is a block of its own


def test_html_headings_are_recorded(built: dict[str, Path]) -> None:
    document = extract(built["html"], "glassworks.html")
    assert _headings(document) == list(HTML_HEADINGS)
    assert document.pages == ()
    assert document.page_at(10) is None


@pytest.mark.parametrize(
    "markup",
    [
        "<!DOCTYPE html><html><head><title>Only a title</title></head>"
        "<body> <script>track()</script> <style>p {}</style> </body></html>",
        # a page with a head but no body at all
        "<!DOCTYPE html><html><head><title>Only a title</title><script>track()</script>"
        "</head></html>",
    ],
    ids=["empty-body", "no-body"],
)
def test_html_without_body_text(tmp_path: Path, markup: str) -> None:
    path = tmp_path / "empty.html"
    path.write_text(markup, encoding="utf-8")
    with pytest.raises(ExtractionError, match="no body text"):
        extract(path, "empty.html")


# -- PDF -------------------------------------------------------------------------------------


def test_pdf_pages_start_where_their_text_does(built: dict[str, Path]) -> None:
    document = extract(built["pdf"], "almanac.pdf")
    text, pages = document.text, document.pages
    assert len(pages) == len(PdfReader(built["pdf"]).pages) == 3
    assert pages[0] == 0
    assert list(pages) == sorted(set(pages))  # strictly increasing
    for number, paragraph in enumerate(PDF_PARAGRAPHS, 1):
        at = text.index(paragraph)
        end = pages[number] if number < len(pages) else len(text)
        assert pages[number - 1] <= at < end
        assert document.page_at(at) == number
        assert document.page_at(at + len(paragraph) - 1) == number
    assert PDF_HEADINGS[1] in text[pages[1] : pages[2]]
    for cell in (cell for row in TABLE for cell in row):  # the table closes the last page
        assert cell in text[pages[2] :]
    assert document.page_at(0) == 1
    assert document.page_at(len(text) - 1) == 3
    for junk in (SCRIPT_TEXT, STYLE_TEXT, PDF_TITLE, "file://"):  # no header or footer
        assert junk not in text


def test_pdf_heading_line_is_not_glued_to_the_paragraph(built: dict[str, Path]) -> None:
    # pypdf ends each printed line with one "\n" and leaves no blank line between paragraphs:
    # a short line (the heading) must still end its block, or it is quoted with the fact.
    text = extract(built["pdf"], "almanac.pdf").text
    at = text.index(PDF_FACT)
    assert text[at - len(BLOCK_BREAK) : at] == BLOCK_BREAK, text[at - 40 : at + 20]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("encrypted", "encrypted PDF"),
        ("image_only", "no text layer"),
        ("corrupt_pdf", "damaged PDF"),
        ("bad_font", "damaged PDF"),
        ("corrupt_docx", "damaged Word file"),
        ("broken_xml_docx", "damaged Word file"),
    ],
)
def test_unreadable_files_say_why(
    built: dict[str, Path], tmp_path: Path, kind: str, reason: str
) -> None:
    makers = {
        "corrupt_pdf": lambda: corrupt_pdf(tmp_path / "corrupt.pdf"),
        "bad_font": lambda: bad_font_pdf(tmp_path / "bad-font.pdf"),
        "corrupt_docx": lambda: corrupt_docx(tmp_path / "corrupt.docx"),
        "broken_xml_docx": lambda: broken_xml_docx(built["docx"], tmp_path / "broken.docx"),
    }
    path = makers[kind]() if kind in makers else built[kind]
    with pytest.raises(ExtractionError, match=reason):
        extract(path, path.name)


def test_owner_locked_pdf_is_read(built: dict[str, Path], tmp_path: Path) -> None:
    # An AES PDF with only an owner password opens with "" (pypdf needs `cryptography`).
    path = owner_locked_pdf(built["pdf"], tmp_path / "locked.pdf")
    assert PDF_FACT in extract(path, "locked.pdf").text


# -- Word ------------------------------------------------------------------------------------


def test_docx_headings_paragraphs_and_table(built: dict[str, Path]) -> None:
    document = extract(built["docx"], "ferry.docx")
    assert _headings(document) == [DOCX_TITLE, "Equipment"]
    blocks = document.text.split(BLOCK_BREAK)
    for paragraph in DOCX_PARAGRAPHS:
        assert paragraph in blocks
    for cell in (cell for row in DOCX_TABLE for cell in row):
        assert cell in document.text
    assert document.pages == ()


# -- plain text and Markdown -------------------------------------------------------------------


def test_text_and_markdown_are_read_byte_for_byte(tmp_path: Path) -> None:
    raw = "Line one.\r\nThe “keeper” rang at 6 a.m.\r\n\r\n  Indented — and trailing  \n".encode()
    (tmp_path / "notes.txt").write_bytes(raw)
    markdown = (
        "# Lighthouse notes\n\nIntro text.\n\n## The bell\n\nRung on Sundays. #not-a-heading\n"
    )
    (tmp_path / "notes.md").write_bytes(markdown.encode())
    text = extract(tmp_path / "notes.txt", "notes.txt")
    assert text.text.encode("utf-8") == raw
    assert text.headings == () and text.pages == ()
    document = extract(tmp_path / "notes.md", "notes.md")
    assert document.text.encode("utf-8") == markdown.encode()
    assert _headings(document) == ["# Lighthouse notes", "## The bell"]


def test_not_utf8_text_says_so(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ExtractionError, match=r"not UTF-8.*offset 3"):
        extract(path, "latin.txt")


# -- the source folder -------------------------------------------------------------------------


def test_load_sources_reads_the_good_and_names_the_bad(
    built: dict[str, Path], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    source = tmp_path / "sources"
    source.mkdir()
    for kind in ("html", "pdf", "docx"):
        shutil.copy(built[kind], source)
    (source / "notes.txt").write_text("The bell is bronze.\n", encoding="utf-8")
    (source / "guide.md").write_text("# Guide\n\nClimb the stairs.\n", encoding="utf-8")
    shutil.copy(built["encrypted"], source / "encrypted.pdf")
    shutil.copy(built["image_only"], source / "scan.pdf")
    corrupt_pdf(source / "corrupt.pdf")
    corrupt_docx(source / "corrupt.docx")
    (source / "empty.html").write_text("<html><body><script>x()</script></body></html>")
    (source / "huge.txt").write_bytes(b"lamp oil\n" * (2 * 1024 * 1024 // 9 + 1))  # > 2 MB
    (source / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (source / "sub").mkdir()
    (source / "sub" / "parent").symlink_to("..", target_is_directory=True)  # a loop
    (source / "loop").symlink_to(source / "sub", target_is_directory=True)  # and into it
    (source / "self.txt").symlink_to("self.txt")  # a link to itself
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("Not in the source folder.")
    (source / "outside.txt").symlink_to(outside)

    sources = load_sources(source, max_file_mb=1)

    read = {document.doc_id: document for document in sources.documents}
    assert sorted(read) == ["almanac.pdf", "ferry.docx", "glassworks.html", "guide.md", "notes.txt"]
    assert PDF_FACT in read["almanac.pdf"].text
    assert HTML_FACT in read["glassworks.html"].text
    assert DOCX_FACT in read["ferry.docx"].text
    assert read["notes.txt"].text == "The bell is bronze.\n"
    reasons = {item.name: item.reason for item in sources.skipped}
    expected = {
        "corrupt.docx": "damaged Word file",
        "corrupt.pdf": "damaged PDF",
        "empty.html": "no body text",
        "encrypted.pdf": "encrypted",
        "huge.txt": r"^2.0 MB, over the 1 MB limit",
        "loop": "link to a folder",
        "outside.txt": "outside the source folder",
        "photo.png": "not a format docqa reads",
        "scan.pdf": "no text layer",
        "self.txt": "loops",
        "sub/parent": "link to a folder",
    }
    assert sorted(reasons) == sorted(expected)
    for name, pattern in expected.items():
        assert re.search(pattern, reasons[name]), (name, reasons[name])
    assert [item.name for item in sources.skipped] == sorted(reasons)

    line = describe_skipped(sources.skipped, shown=len(sources.skipped))
    assert line.startswith(f"skipped {len(expected)} files: ")
    for item in sources.skipped:
        assert f"{item.name} ({item.reason})" in line
    assert describe_skipped(sources.skipped).endswith(f"; and {len(expected) - 5} more")


def test_oversized_file_reason_states_a_size_over_the_limit(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Fine.")
    (tmp_path / "big.txt").write_bytes(b"x" * int(1.4 * 1024 * 1024))
    (skipped,) = load_sources(tmp_path, max_file_mb=1).skipped
    size = float(re.match(r"([\d.,]+) MB", skipped.reason).group(1))
    assert size > 1, skipped.reason


def test_an_owner_locked_pdf_is_indexed_with_the_rest(
    built: dict[str, Path], tmp_path: Path
) -> None:
    shutil.copy(built["docx"], tmp_path)
    owner_locked_pdf(built["pdf"], tmp_path / "locked.pdf")
    sources = load_sources(tmp_path)
    assert [document.doc_id for document in sources.documents] == ["ferry.docx", "locked.pdf"]


# -- what one file may expand to ----------------------------------------------------------------

BOMB_PARAGRAPH = "All work and no play makes Jack a dull boy."


@pytest.mark.parametrize("depth", [1000, pytest.param(100_000, marks=pytest.mark.slow)])
def test_deeply_nested_html_is_read(tmp_path: Path, depth: int) -> None:
    # Deeper than Python's recursion limit, which once stopped all indexing.
    path = deep_html(tmp_path / "deep.html", depth, HTML_FACT)
    assert extract(path, "deep.html").text == HTML_FACT


@pytest.mark.parametrize("kind", ["txt", "md", "html", "pdf", "docx"])
def test_the_character_limit_holds_for_every_format(
    built: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    if kind in ("txt", "md"):
        path = tmp_path / f"notes.{kind}"
        path.write_text("# Notes\n\nThe bell is bronze, and “heavy”.\r\n", encoding="utf-8")
    else:
        path = built[kind]
    text = extract(path, path.name).text
    assert extract(path, path.name, Limits(chars=len(text))).text == text
    with pytest.raises(ExtractionError, match=r"more than [\d,]+ characters.*DOCQA_MAX_FILE_CHARS"):
        extract(path, path.name, Limits(chars=len(text) - 1))


def test_a_zip_bomb_word_file_is_stopped_while_it_is_read(tmp_path: Path) -> None:
    # The XML is never closed: a reader that took in the whole file would call it damaged.
    # Only one that counts the text as it streams, and stops at the limit, names the limit.
    skeleton = docx_file(tmp_path / "skeleton.docx", DOCX_TITLE, DOCX_PARAGRAPHS)
    path = zip_bomb_docx(skeleton, tmp_path / "bomb.docx", BOMB_PARAGRAPH, 200_000, whole=False)
    with pytest.raises(ExtractionError, match=r"^more than 1,000,000 characters.*MAX_FILE_CHARS"):
        extract(path, "bomb.docx", Limits(chars=1_000_000))


@pytest.mark.slow
def test_a_two_megabyte_zip_bomb_is_skipped_at_the_default_limit(tmp_path: Path) -> None:
    skeleton = docx_file(tmp_path / "skeleton.docx", DOCX_TITLE, DOCX_PARAGRAPHS)
    source = tmp_path / "sources"
    source.mkdir()
    shutil.copy(skeleton, source / "ferry.docx")
    bomb = zip_bomb_docx(skeleton, source / "bomb.docx", BOMB_PARAGRAPH, 12_000_000)
    assert bomb.stat().st_size < 3 * 1024 * 1024
    with zipfile.ZipFile(bomb) as package:  # it expands to 900 MB of XML
        assert package.getinfo("word/document.xml").file_size > 500 * 1024 * 1024
    sources = load_sources(source)
    assert [document.doc_id for document in sources.documents] == ["ferry.docx"]
    ((name, reason),) = [(item.name, item.reason) for item in sources.skipped]
    assert name == "bomb.docx"
    assert reason.startswith("more than 20,000,000 characters of text, over the limit")


def test_a_word_file_of_markup_without_text_is_stopped_too(tmp_path: Path) -> None:
    skeleton = docx_file(tmp_path / "skeleton.docx", DOCX_TITLE, DOCX_PARAGRAPHS)
    path = zip_bomb_docx(skeleton, tmp_path / "markup.docx", "", 400_000)  # 14 MB of XML
    with pytest.raises(ExtractionError, match=r"bytes of XML in word/document.xml"):
        extract(path, "markup.docx", Limits(chars=10_000))
    with pytest.raises(ExtractionError, match="a Word file with no text"):
        extract(path, "markup.docx")


def test_an_empty_word_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    docx.Document().save(str(path))
    with pytest.raises(ExtractionError, match="a Word file with no text"):
        extract(path, "empty.docx")


def test_a_pdf_of_100000_pages_is_skipped_by_the_page_limit(tmp_path: Path) -> None:
    path = many_page_pdf(tmp_path / "pages.pdf", 100_000)
    with pytest.raises(ExtractionError, match=r"^100,000 pages, over the limit of 2,000 \("):
        extract(path, "pages.pdf")


def test_the_page_limit_counts_pages(tmp_path: Path) -> None:
    path = many_page_pdf(tmp_path / "three.pdf", 3)
    with pytest.raises(ExtractionError, match=r"^3 pages, over the limit of 2 \(DOCQA_MAX_PDF"):
        extract(path, "three.pdf", Limits(pdf_pages=2))
    with pytest.raises(ExtractionError, match="no text layer"):  # read: its pages are blank
        extract(path, "three.pdf", Limits(pdf_pages=3))


@pytest.mark.parametrize("name", ["DOCQA_MAX_FILE_CHARS", "DOCQA_MAX_PDF_PAGES"])
def test_the_limits_are_settings(name: str) -> None:
    field = name.removeprefix("DOCQA_").lower()
    assert getattr(Settings.from_env({name: "7"}), field) == 7
    with pytest.raises(SettingsError, match=f"{name} must be at least 1, not 0"):
        Settings.from_env({name: "0"})


# -- end to end --------------------------------------------------------------------------------


def test_hostile_files_never_stop_the_index(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "sources"
    source.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, source)
    (source / "empty.txt").write_bytes(b"")
    (source / "blank.txt").write_text(" \n\t\n")
    deep_html(source / "deep.html", 5000, HTML_FACT)
    long_text = "word " * 3000 + "end\n"  # one sentence of 15,004 characters
    (source / "long.txt").write_text(long_text)
    many_page_pdf(source / "pages.pdf", 3)
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("The launch code is 0000.")
    os.link(outside, source / "secret.txt")
    settings = Settings.from_env(
        {}, source_dir=source, index_dir=tmp_path / "index", max_pdf_pages=2
    )
    engine = DocQA(settings)
    with caplog.at_level(logging.WARNING, logger="rag.chain"):
        report = engine.index()
    reasons = {item.name: item.reason for item in report.skipped}
    assert sorted(reasons) == ["blank.txt", "empty.txt", "pages.pdf", "secret.txt"]
    assert reasons["empty.txt"] == "empty" and reasons["blank.txt"].startswith("empty")
    assert "DOCQA_MAX_PDF_PAGES" in reasons["pages.pdf"]
    assert "hard link" in reasons["secret.txt"]
    (warning,) = [record.getMessage() for record in caplog.records]
    assert warning == describe_skipped(report.skipped)
    assert engine.source_text("deep.html") == HTML_FACT
    assert engine.source_text("long.txt") == long_text
    answer = engine.answer("How many ballistic missiles did North Korea fire?")
    assert not answer.abstained and answer.citations[0].doc_id == ARTICLE_ID
    assert answer.short is not None and answer.short.quote.lower() == "two"
    long_hit = engine.answer("How many times does the word appear before the end?")
    for citation in long_hit.citations:  # a quote from the long file is one of its pieces
        assert len(citation.quote) <= MAX_SENTENCE_CHARS
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rag.chain"):
        engine.index()
    assert not caplog.records  # the same files again: already said


def test_answers_cite_the_right_file_and_page(built: dict[str, Path], tmp_path: Path) -> None:
    source = tmp_path / "sources"
    source.mkdir()
    for kind in ("pdf", "html", "docx"):
        shutil.copy(built[kind], source)
    engine = DocQA(Settings.from_env({}, source_dir=source, index_dir=tmp_path / "index"))
    assert engine.index().skipped == ()
    cases = [
        ("Who rang the bell at 6 a.m. every Sunday?", "almanac.pdf", 2, "Morrow"),
        ("Who built the green lantern for the northern pier?", "glassworks.html", None, "Varga"),
        (
            "How many passengers did the ferry captain cross the strait with?",
            "ferry.docx",
            None,
            "eighteen",
        ),
    ]
    for question, doc_id, page, word in cases:
        answer = engine.answer(question)
        assert not answer.abstained, question
        citation = answer.citations[0]
        assert citation.doc_id == doc_id, (question, citation)
        assert citation.page == page, (question, citation)
        text = engine.source_text(doc_id)
        assert citation.quote == text[citation.start : citation.end]
        assert word in citation.quote and word in answer.text, (question, answer.text)
