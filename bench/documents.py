"""Many small documents of every format docqa reads, generated cheaply and deterministically.

Each document is a title and one to three short paragraphs; a paragraph is a run of one or
two consecutive sentences of one SQuAD paragraph (data/squad2-train-10-articles.json), or
now and then of the seed article, so the corpus has the variety of ten Wikipedia articles
and the eval questions still find their answers in it. Formats follow FORMATS: seven in ten
plain text or Markdown, the rest HTML, Word and PDF (written by hand: a text stream per page,
one or two pages), so nothing slow (a browser) runs per file.
"""

from __future__ import annotations

import html
import json
import random
import sys
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import SEED, article_sentences
from bench.measure import ROOT
from rag.chunking import split_sentences

SQUAD = ROOT / "data" / "squad2-train-10-articles.json"
# Document i has format FORMATS[i % 10]: 4 .txt, 3 .md, 1 each of .html, .docx and .pdf, so
# any five consecutive documents from 0 hold every format.
FORMATS = ("txt", "md", "html", "docx", "pdf", "txt", "md", "txt", "md", "txt")
# Small, so 10,000 documents index in about 20 minutes on two cores: each sentence costs
# docqa about 25 ms (embedding ~13, spaCy ~8, Chroma rows).
PARAGRAPHS = (1, 3)  # paragraphs per document, at least and at most
SENTENCES = (1, 2)  # consecutive sentences per paragraph, at least and at most
ARTICLE_SHARE = 0.1  # of paragraphs taken from the seed article rather than SQuAD
PDF_LINE_CHARS = 90  # characters per printed PDF line
PDF_FONT_PT, PDF_LEADING_PT = 10, 14


@dataclass(frozen=True)
class Generated:
    """One written document: its file, title and paragraphs (the text a reader sees)."""

    path: Path
    title: str
    paragraphs: tuple[str, ...]


def write_documents(
    folder: Path, docs: int, seed: int = SEED, progress: bool = False
) -> list[Generated]:
    """Write `docs` documents of mixed formats into `folder`; what each one says, in order.

    Document i is the same for every `docs`, so a smaller corpus is a prefix of a larger one.
    With `progress`, a progress bar on stderr.
    """
    pool = _Pool.load()
    folder.mkdir(parents=True, exist_ok=True)
    width = len(str(max(docs - 1, 0)))
    written = []
    bar = _bar(docs, "writing documents") if progress else None
    for number in range(docs):
        rng = random.Random(seed * 1_000_003 + number)
        kind = FORMATS[number % len(FORMATS)]
        title, paragraphs = pool.document(rng, number)
        if kind == "pdf":  # the standard PDF fonts know Windows-1252 characters only
            title, paragraphs = _latin(title), [_latin(p) for p in paragraphs]
        path = folder / f"doc-{number:0{width}d}.{kind}"
        WRITERS[kind](path, title, paragraphs, rng)
        written.append(Generated(path, title, tuple(paragraphs)))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return written


def format_counts(documents: list[Generated]) -> dict[str, int]:
    """How many documents of each format, by suffix without its dot."""
    counts: dict[str, int] = {}
    for document in documents:
        kind = document.path.suffix.lstrip(".")
        counts[kind] = counts.get(kind, 0) + 1
    return counts


@dataclass(frozen=True)
class _Pool:
    """The sentences documents are made of: each SQuAD paragraph's, and the article's."""

    titles: tuple[str, ...]  # the SQuAD article of each paragraph
    paragraphs: tuple[tuple[str, ...], ...]  # sentences of each SQuAD paragraph
    article: tuple[str, ...]

    @classmethod
    def load(cls) -> _Pool:
        squad = json.loads(SQUAD.read_text(encoding="utf-8"))
        titles, paragraphs = [], []
        for article in squad["data"]:
            for paragraph in article["paragraphs"]:
                text = paragraph["context"]
                sentences = tuple(text[start:end] for start, end in split_sentences(text))
                if sentences:
                    titles.append(article["title"].replace("_", " "))
                    paragraphs.append(sentences)
        return cls(tuple(titles), tuple(paragraphs), tuple(article_sentences()))

    def document(self, rng: random.Random, number: int) -> tuple[str, list[str]]:
        """A title and paragraphs; the title names the SQuAD article of the first one."""
        count = rng.randint(*PARAGRAPHS)
        topic = ""
        paragraphs = []
        for _ in range(count):
            if rng.random() < ARTICLE_SHARE:
                source = self.article
            else:
                row = rng.randrange(len(self.paragraphs))
                source = self.paragraphs[row]
                topic = topic or self.titles[row]
            length = min(rng.randint(*SENTENCES), len(source))
            first = rng.randrange(len(source) - length + 1)
            paragraphs.append(" ".join(source[first : first + length]))
        return f"{topic or 'North Korea missile tests'}: notes {number}", paragraphs


def _txt(path: Path, title: str, paragraphs: list[str], rng: random.Random) -> None:
    path.write_text("\n\n".join([title, *paragraphs]) + "\n", encoding="utf-8")


def _md(path: Path, title: str, paragraphs: list[str], rng: random.Random) -> None:
    body = [f"# {title}", *paragraphs]
    if len(paragraphs) > 2:
        body.insert(2 + rng.randrange(len(paragraphs) - 1), "## More")
    path.write_text("\n\n".join(body) + "\n", encoding="utf-8")


def _html(path: Path, title: str, paragraphs: list[str], rng: random.Random) -> None:
    body = "\n".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    path.write_text(
        f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>p {{ max-width: 40em; }}</style></head>
<body>
<script>var seen = {rng.randrange(1000)};</script>
<article>
<h1>{html.escape(title)}</h1>
{body}
</article>
</body>
</html>
""",
        encoding="utf-8",
    )


def _docx(path: Path, title: str, paragraphs: list[str], rng: random.Random) -> None:
    import docx

    document = docx.Document()
    document.add_heading(title, level=0)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))


def _pdf(path: Path, title: str, paragraphs: list[str], rng: random.Random) -> None:
    """One or two pages of Helvetica text, each a content stream of lines, written by hand."""
    split = (len(paragraphs) + 1) // 2 if len(paragraphs) > 1 and rng.random() < 0.5 else 0
    pages = [[title, *paragraphs[:split]], paragraphs[split:]] if split else [[title, *paragraphs]]
    path.write_bytes(pdf_bytes(pages))


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A minimal PDF: each page prints its paragraphs as wrapped lines, a blank line between.

    Text must be Windows-1252 (the encoding of the standard fonts here).
    """
    count = len(pages)
    # Objects: 1 catalog, 2 page tree, 3 font, then a page and its content stream per page.
    kids = " ".join(f"{4 + 2 * page} 0 R" for page in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for page, paragraphs in enumerate(pages):
        lines = [b"BT", f"/F1 {PDF_FONT_PT} Tf {PDF_LEADING_PT} TL 72 740 Td".encode()]
        for paragraph in paragraphs:
            for line in textwrap.wrap(
                paragraph, PDF_LINE_CHARS, break_long_words=False, break_on_hyphens=False
            ):
                lines.append(b"(" + _pdf_string(line) + b") Tj T*")
            lines.append(b"T*")
        lines.append(b"ET")
        stream = b"\n".join(lines)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * page} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    return pdf_file(objects)


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF file of `objects`, numbered from 1 (the first must be the catalog), with the
    cross-reference table and trailer a reader needs to find them."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        table,
    )
    return bytes(out)


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _latin(text: str) -> str:
    """`text` in Windows-1252: accents kept where it has them, other letters decomposed
    (their marks dropped), anything else left out."""
    kept = []
    for char in text:
        try:
            char.encode("cp1252")
            kept.append(char)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", char)
            kept.append(plain.encode("cp1252", errors="ignore").decode("cp1252"))
    return "".join(kept)


def _bar(total: int, label: str):
    from tqdm.auto import tqdm  # sentence-transformers' own dependency, as in rag.embeddings

    return tqdm(total=total, unit="doc", desc=label, file=sys.stderr)


WRITERS: dict[str, Callable[[Path, str, list[str], random.Random], None]] = {
    "txt": _txt,
    "md": _md,
    "html": _html,
    "docx": _docx,
    "pdf": _pdf,
}
