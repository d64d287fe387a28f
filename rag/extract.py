"""Text out of each kind of file docqa reads: plain text and Markdown as they are, HTML, PDF
and Word as the text a reader sees, with PDF pages and headings kept.

Offsets of a citation point into the text extracted here; for .txt and .md files that is the
file's own text exactly as read (newlines untouched), for the other formats the blocks of the
document joined by blank lines. The index stores the extracted text, so a quote can always be
checked against it (`rag.source_text`).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ExtractionError
from rag.settings import DEFAULT_MAX_FILE_CHARS, DEFAULT_MAX_PDF_PAGES
from rag.types import Document

if TYPE_CHECKING:
    from bs4 import PageElement, Tag
    from pypdf import PdfReader

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
SUFFIXES = TEXT_SUFFIXES | {".html", ".htm", ".pdf", ".docx"}
BLOCK_BREAK = "\n\n"  # between the blocks (paragraphs, headings, cells, pages) of a document
# Bumped when what an extractor returns changes; with the libraries' versions it is part of
# the index fingerprint, so the index re-extracts by itself.
EXTRACTION_FORMAT = "2"
_LIBRARIES = ("pypdf", "beautifulsoup4", "lxml")
_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S[^\r\n]*?(?=[ \t]*\r?$)", re.MULTILINE)


@dataclass(frozen=True)
class Limits:
    """How far one file may expand as it is read: characters of text, and PDF pages."""

    chars: int = DEFAULT_MAX_FILE_CHARS
    pdf_pages: int = DEFAULT_MAX_PDF_PAGES


DEFAULT_LIMITS = Limits()


def _too_long(limits: Limits) -> ExtractionError:
    return ExtractionError(
        f"more than {limits.chars:,} characters of text, over the limit "
        "(DOCQA_MAX_FILE_CHARS): split the file, or raise the limit"
    )


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


def extract(path: Path, doc_id: str, limits: Limits = DEFAULT_LIMITS) -> Document:
    """The document in the file at `path`; an ExtractionError (with the reason, for the
    list of skipped files) when it has no readable text or expands past `limits`, or an
    OSError from reading it. Reading stops as soon as a limit is passed."""
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return _text(path, doc_id, limits)
    reader = _READERS.get(suffix)
    if reader is None:
        raise ExtractionError(f"{suffix or 'no suffix'} files are not read")
    return reader(path, doc_id, limits)


def _text(path: Path, doc_id: str, limits: Limits) -> Document:
    most = 4 * limits.chars  # bytes: a UTF-8 character takes at most four
    with path.open("rb") as handle:
        raw = handle.read(most + 1)
    if len(raw) > most:
        raise _too_long(limits)
    try:
        # subtle: bytes decoded as they are keep "\r\n" as two characters, so offsets
        # match the bytes on disk
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ExtractionError(
            f"not UTF-8 text (bad byte at offset {error.start}); save it as UTF-8"
        ) from None
    if len(text) > limits.chars:
        raise _too_long(limits)
    if not text.strip():
        raise ExtractionError("empty (nothing but white space)" if text else "empty")
    headings: tuple[tuple[int, int], ...] = ()
    if path.suffix.lower() in (".md", ".markdown"):
        headings = tuple(match.span() for match in _MARKDOWN_HEADING.finditer(text))
    return Document(doc_id=doc_id, text=text, headings=headings)


class _Blocks:
    """Text built block by block, remembering where headings and pages start."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
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
        if self.length > self.limits.chars:
            raise _too_long(self.limits)

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


def _html(path: Path, doc_id: str, limits: Limits) -> Document:
    from bs4 import BeautifulSoup, Comment

    raw = path.read_bytes()
    soup = BeautifulSoup(raw, "lxml")
    for hidden in soup.find_all(_HIDDEN):
        hidden.decompose()
    for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    blocks = _Blocks(limits)
    if soup.body is not None:
        _html_blocks(soup.body, blocks)
    return blocks.document(doc_id, "no body text")


def _html_blocks(body: Tag, blocks: _Blocks) -> None:
    """The text under `body` into `blocks`, each block element's own text a block. It walks
    with a stack of its own, not by recursion: no depth of nesting can overflow Python's."""
    from bs4 import NavigableString, Tag

    line: list[str] = []

    def flush(heading: bool = False) -> None:
        blocks.add(_SPACES.sub(" ", "".join(line)), heading)
        line.clear()

    # Each entry: the children still to visit, and the block element they close (or None).
    stack: list[tuple[Iterator[PageElement], str | None]] = [(iter(body.children), None)]
    while stack:
        children, block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if block is not None:
                flush(heading=block in _HEADINGS)
        elif isinstance(child, NavigableString):
            line.append(str(child))
        elif isinstance(child, Tag):
            if child.name in _BLOCKS:
                flush()
            stack.append((iter(child.children), child.name if child.name in _BLOCKS else None))
    flush()


# -- PDF -------------------------------------------------------------------------------------


def _pdf(path: Path, doc_id: str, limits: Limits) -> Document:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every odd object
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("an encrypted PDF; save a copy without a password")
        _check_pages(reader, limits)
        blocks = _Blocks(limits)
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


def _check_pages(reader: PdfReader, limits: Limits) -> None:
    """An ExtractionError when the PDF has more pages than `limits` allow: the count its page
    tree declares is read first, so a PDF that claims too many is never walked."""
    declared = reader.trailer["/Root"]["/Pages"].get("/Count", 0)
    pages = declared if isinstance(declared, int) and declared > limits.pdf_pages else None
    if pages is None and len(reader.pages) > limits.pdf_pages:
        pages = len(reader.pages)
    if pages is not None:
        raise ExtractionError(
            f"{pages:,} pages, over the limit of {limits.pdf_pages:,} (DOCQA_MAX_PDF_PAGES): "
            "split the PDF, or raise the limit"
        )


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


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _R, _T, _BR, _TC, _TR = (f"{_W}{name}" for name in ("p", "r", "t", "br", "tc", "tr"))
_BODY, _STYLE, _NAME, _PSTYLE = (f"{_W}{name}" for name in ("body", "style", "name", "pStyle"))
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
# What the other elements of a run stand for in text, as Word shows it.
_RUN_TEXT = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
# Each part of a Word file may hold this many bytes of XML per character of text the file
# may hold (formatting takes 5 to 20 in ordinary files), and a floor for styles and the
# markup of short files: past that, a file that expands to gigabytes of markup with little
# text is stopped too.
XML_BYTES_PER_CHAR = 50
XML_BYTES_FLOOR = 10 * 1024 * 1024
_XML_READ = 1 << 16  # bytes fed to the XML parser at a time


def _docx(path: Path, doc_id: str, limits: Limits) -> Document:
    """A Word file's paragraphs and table rows. Its XML is parsed as a stream of events as
    it is decompressed, never built into a tree, so its text is counted, and reading stops
    at the limit, while it is read."""
    from lxml.etree import XMLSyntaxError

    try:
        with zipfile.ZipFile(path) as package:
            main = _Relationship("officeDocument")
            _parse(package, "_rels/.rels", main, limits)
            if main.target is None:
                raise KeyError("no main document part")
            body = _WordBody(_heading_styles(package, main.target, limits), _Blocks(limits))
            _parse(package, main.target, body, limits)
    except (
        zipfile.BadZipFile,
        zlib.error,
        XMLSyntaxError,
        KeyError,
        ValueError,
        EOFError,
        NotImplementedError,  # a compression method zipfile does not know
        RuntimeError,  # an encrypted zip entry
    ) as error:
        raise ExtractionError(f"a damaged Word file ({type(error).__name__})") from None
    return body.blocks.document(doc_id, "a Word file with no text")


def _parse(package: zipfile.ZipFile, name: str, target: _Target, limits: Limits) -> None:
    """Feed the part `name` of `package` to the parser target `target` (its `start`, `end`
    and `data` methods are called for each element and text) as it is decompressed."""
    from lxml.etree import XMLParser

    budget = XML_BYTES_FLOOR + limits.chars * XML_BYTES_PER_CHAR
    parser = XMLParser(target=target, resolve_entities=False, no_network=True)
    read = 0
    with package.open(name) as stream:
        while chunk := stream.read(_XML_READ):
            read += len(chunk)
            if read > budget:
                raise ExtractionError(
                    f"more than {budget:,} bytes of XML in {name}, over the limit "
                    "DOCQA_MAX_FILE_CHARS sets: split the file, or raise the limit"
                )
            parser.feed(chunk)
    parser.close()


class _Target:
    """A parser target that ignores what it is not told to look at."""

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        """An element opens."""

    def end(self, tag: str) -> None:
        """An element closes."""

    def data(self, text: str) -> None:
        """Text inside the element open last."""

    def close(self) -> None:
        """The part has been read."""


class _Relationship(_Target):
    """The part a relationships file (`_rels/*.rels`) links as `kind`, as a path in the
    package (None when it links none)."""

    def __init__(self, kind: str, rels: str = "_rels/.rels") -> None:
        self.kind, self.folder = kind, posixpath.dirname(posixpath.dirname(rels))
        self.target: str | None = None

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag != _RELATIONSHIP or self.target is not None:
            return
        if attrib.get("Type", "").rsplit("/", 1)[-1] == self.kind:
            target = attrib.get("Target", "")
            self.target = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(self.folder, target))
            )


class _HeadingStyles(_Target):
    """The ids of the styles named as headings or titles ("heading 1", "Title")."""

    def __init__(self) -> None:
        self.style, self.found = "", set()

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == _STYLE:
            self.style = attrib.get(f"{_W}styleId", "")
        elif tag == _NAME and self.style and _names_heading(attrib.get(f"{_W}val", "")):
            self.found.add(self.style)


def _names_heading(style_name: str) -> bool:
    return style_name.lower().startswith(("heading", "title"))


def _heading_styles(package: zipfile.ZipFile, main: str, limits: Limits) -> frozenset[str]:
    folder, name = posixpath.split(main)
    rels = posixpath.join(folder, "_rels", f"{name}.rels")
    styles = _Relationship("styles", rels)
    if rels in package.namelist():
        _parse(package, rels, styles, limits)
    if styles.target is None or styles.target not in package.namelist():
        return frozenset()
    headings = _HeadingStyles()
    _parse(package, styles.target, headings, limits)
    return frozenset(headings.found)


@dataclass
class _Paragraph:
    """A w:p being read: its text so far and its style's id."""

    parts: list[str] = field(default_factory=list)
    style: str = ""


class _WordBody(_Target):
    """Blocks out of the document part: each paragraph of the body (a heading when its
    style is one), and each table row as its cells' texts joined by " | ". Text outside
    those (text boxes, headers) is left out, as python-docx leaves it out."""

    def __init__(self, headings: frozenset[str], blocks: _Blocks) -> None:
        self.headings, self.blocks = headings, blocks
        self.open: list[str] = [""]  # the tags of the open elements, innermost last
        self.paragraphs: list[_Paragraph] = []  # one per open w:p, innermost last
        self.cells: list[list[str]] = []  # paragraph texts per open w:tc
        self.rows: list[list[str]] = []  # cell texts per open w:tr
        self.chars = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        parent = self.open[-1]
        self.open.append(tag)
        if tag == _P:
            self.paragraphs.append(_Paragraph())
        elif tag == _TC:
            self.cells.append([])
        elif tag == _TR:
            self.rows.append([])
        elif tag == _PSTYLE and self.paragraphs:
            self.paragraphs[-1].style = attrib.get(f"{_W}val", "")
        elif tag == _BR and parent == _R and self.paragraphs:
            wraps = attrib.get(f"{_W}type", "textWrapping") == "textWrapping"
            self._text("\n" if wraps else "")
        elif parent == _R and tag in _RUN_TEXT and self.paragraphs:
            self._text(_RUN_TEXT[tag])

    def data(self, text: str) -> None:
        if self.open[-1] == _T and self.open[-2] == _R and self.paragraphs:
            self._text(text)

    def end(self, tag: str) -> None:
        self.open.pop()
        if tag == _P:
            self._paragraph(self.open[-1])
        elif tag == _TC:
            cell = "\n".join(self.cells.pop())
            if self.rows:
                self.rows[-1].append(cell)
        elif tag == _TR:
            self.blocks.add(" | ".join(_unique_cells(self.rows.pop())))

    def _text(self, text: str) -> None:
        self.chars += len(text)
        if self.chars > self.blocks.limits.chars:
            raise _too_long(self.blocks.limits)
        self.paragraphs[-1].parts.append(text)

    def _paragraph(self, parent: str) -> None:
        paragraph = self.paragraphs.pop()
        text = "".join(paragraph.parts)
        if parent == _BODY:
            self.blocks.add(text, heading=paragraph.style in self.headings)
        elif parent == _TC and self.cells:
            self.cells[-1].append(text)


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
