"""Text out of each kind of file docqa reads: plain text and Markdown as they are, HTML, PDF
and Word as the text a reader sees, with PDF pages and headings kept.

Offsets of a citation point into the text extracted here; for .txt and .md files that is the
file's own text exactly as read (newlines untouched), for the other formats the blocks of the
document joined by blank lines. The index stores the extracted text, so a quote can always be
checked against it (`rag.source_text`).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

from rag.errors import SourceError
from rag.types import Document

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
SUFFIXES = TEXT_SUFFIXES | {".html", ".htm", ".pdf", ".docx"}
BLOCK_BREAK = "\n\n"  # between the blocks (paragraphs, headings, cells, pages) of a document
# Bumped when what an extractor returns changes; with the libraries' versions it is part of
# the index fingerprint, so the index re-extracts by itself.
EXTRACTION_FORMAT = "1"
_LIBRARIES = ("pypdf", "beautifulsoup4", "lxml", "python-docx")
_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S[^\r\n]*?(?=[ \t]*\r?$)", re.MULTILINE)


class ExtractionError(SourceError):
    """A file docqa would read holds no text it can get at (encrypted, damaged, empty)."""


def extractor_version() -> str:
    """What shapes extracted text: this module's format and the extracting libraries'
    versions."""
    versions = []
    for name in _LIBRARIES:
        try:
            versions.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}=none")
    return ";".join([EXTRACTION_FORMAT, *versions])


def extract(path: Path, doc_id: str) -> Document:
    """The document in the file at `path`; an ExtractionError (with the reason, for the
    list of skipped files) when it has no readable text, or an OSError from reading it."""
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return _text(path, doc_id)
    reader = _READERS.get(suffix)
    if reader is None:
        raise ExtractionError(f"{suffix or 'no suffix'} files are not read")
    return reader(path, doc_id)


def _text(path: Path, doc_id: str) -> Document:
    try:
        # subtle: newline="" keeps "\r\n" as two characters, so offsets match the bytes on disk
        with path.open(encoding="utf-8", newline="") as handle:
            text = handle.read()
    except UnicodeDecodeError as error:
        raise ExtractionError(
            f"not UTF-8 text (bad byte at offset {error.start}); save it as UTF-8"
        ) from None
    headings: tuple[tuple[int, int], ...] = ()
    if path.suffix.lower() in (".md", ".markdown"):
        headings = tuple(match.span() for match in _MARKDOWN_HEADING.finditer(text))
    return Document(doc_id=doc_id, text=text, headings=headings)


class _Blocks:
    """Text built block by block, remembering where headings and pages start."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[tuple[int, int]] = []
        self.pages: list[int] = []

    def add(self, text: str, heading: bool = False) -> None:
        text = text.strip()
        if not text:
            return
        if self.parts:
            self.parts.append(BLOCK_BREAK)
            self.length += len(BLOCK_BREAK)
        if heading:
            self.headings.append((self.length, self.length + len(text)))
        self.parts.append(text)
        self.length += len(text)

    def new_page(self) -> None:
        self.pages.append(self.length + (len(BLOCK_BREAK) if self.parts else 0))

    def document(self, doc_id: str, empty: str) -> Document:
        text = "".join(self.parts)
        if not text.strip():
            raise ExtractionError(empty)
        pages = tuple(min(start, len(text)) for start in self.pages)
        return Document(doc_id, text, pages=pages, headings=tuple(self.headings))


# -- HTML ------------------------------------------------------------------------------------

_HIDDEN = ("script", "style", "noscript", "template", "head", "svg", "canvas", "iframe")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = frozenset(
    {
        *_HEADINGS,
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "nav",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "td",
        "th",
        "caption",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "address",
        "form",
        "fieldset",
        "details",
        "summary",
        "hr",
        "br",
        "body",
    }
)
_SPACES = re.compile(r"\s+")
_SHORT_LINE = 0.7  # a PDF line shorter than this share of a full line ends its paragraph


def _html(path: Path, doc_id: str) -> Document:
    from bs4 import BeautifulSoup, Comment, NavigableString, Tag

    raw = path.read_bytes()
    soup = BeautifulSoup(raw, "lxml")
    for hidden in soup.find_all(_HIDDEN):
        hidden.decompose()
    for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    blocks = _Blocks()
    line: list[str] = []

    def flush(heading: bool = False) -> None:
        blocks.add(_SPACES.sub(" ", "".join(line)), heading)
        line.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                line.append(str(child))
            elif isinstance(child, Tag):
                if child.name in _BLOCKS:
                    flush()
                    walk(child)
                    flush(heading=child.name in _HEADINGS)
                else:
                    walk(child)

    if soup.body is not None:
        walk(soup.body)
        flush()
    return blocks.document(doc_id, "no body text")


# -- PDF -------------------------------------------------------------------------------------


def _pdf(path: Path, doc_id: str) -> Document:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every odd object
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("an encrypted PDF; save a copy without a password")
        blocks = _Blocks()
        for page in reader.pages:
            blocks.new_page()
            for paragraph in _paragraphs(page.extract_text() or ""):
                blocks.add(paragraph)
    except ExtractionError:
        raise
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
    ) as error:
        raise ExtractionError(f"a damaged PDF ({type(error).__name__}: {error})") from None
    except NotImplementedError as error:  # an encryption pypdf cannot undo
        raise ExtractionError(f"a PDF docqa cannot decode ({error})") from None
    return blocks.document(doc_id, "a PDF with no text layer (scanned pages?); OCR it first")


def _paragraphs(page: str) -> Iterable[str]:
    """A page's text in paragraphs. PDF text comes as printed lines with no paragraph marks;
    a line well short of the page's full lines ends its paragraph (a heading, a paragraph's
    last line), and the lines between are joined, a word broken by a hyphen made whole."""
    lines = [_SPACES.sub(" ", line).strip() for line in page.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return
    full = max(len(line) for line in lines)
    paragraph = ""
    for line in lines:
        if paragraph.endswith("-") and line[:1].islower():
            paragraph = paragraph[:-1] + line
        else:
            paragraph = f"{paragraph} {line}" if paragraph else line
        if len(line) < _SHORT_LINE * full:
            yield paragraph
            paragraph = ""
    if paragraph:
        yield paragraph


# -- Word ------------------------------------------------------------------------------------


def _docx(path: Path, doc_id: str) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    try:
        word = docx.Document(str(path))
    except (
        PackageNotFoundError,
        zipfile.BadZipFile,
        XMLSyntaxError,
        KeyError,
        ValueError,
    ) as error:
        raise ExtractionError(f"a damaged Word file ({type(error).__name__})") from None
    blocks = _Blocks()
    body = word.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = docx.text.paragraph.Paragraph(child, word)
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            blocks.add(paragraph.text, heading=style.startswith(("Heading", "Title")))
        elif tag == "tbl":
            table = docx.table.Table(child, word)
            for row in table.rows:
                blocks.add(" | ".join(_unique_cells(cell.text for cell in row.cells)))
    return blocks.document(doc_id, "a Word file with no text")


def _unique_cells(cells: Iterable[str]) -> list[str]:
    """A row's cell texts; a merged cell is reported once per grid column, so repeats go."""
    seen: list[str] = []
    for cell in cells:
        cell = _SPACES.sub(" ", cell).strip()
        if cell and (not seen or seen[-1] != cell):
            seen.append(cell)
    return seen


_READERS: dict[str, Callable[[Path, str], Document]] = {
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
}
