"""Real documents for the extraction tests: HTML pages, PDFs that Chromium prints from them,
Word files, and the broken kinds (encrypted, image-only, damaged) docqa must skip with a reason.

Each helper writes one file at the path it is given and returns that path.
"""

from __future__ import annotations

import html
import os
import random
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from unittest import mock

import docx
from pypdf import PdfWriter
from pypdf._crypt_providers import CryptBase

from bench.documents import pdf_file

CHROMIUM = "/usr/bin/chromium"  # Debian's; `playwright install` cannot download here
# Headless, and quiet on a closed network: without these Chromium keeps trying to reach out.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_TIMEOUT = 180  # seconds; a cold start on two busy cores takes a few
# Text that lives only where a reader never sees it: it must never be extracted.
SCRIPT_TEXT = "trackVisitorScriptToken"
STYLE_TEXT = "lighthouseBorderStyleToken"
NAV_TEXT = ("Home", "Archive", "Contact")
TABLE = (("Lamp", "Wattage"), ("Fresnel lens", "1000 watts"))


def html_page(
    path: Path,
    title: str,
    paragraphs: Sequence[str],
    headings: Sequence[str] = (),
    table: Sequence[Sequence[str]] = TABLE,
) -> Path:
    """An HTML page: <title>, a <script> and <style> (SCRIPT_TEXT, STYLE_TEXT), a nav menu,
    then `headings[i]` (an h1, then h2s) before `paragraphs[i]`, and one table at the end.

    In every paragraph the first word is bold and the last word a link, and the markup breaks
    lines, so the extracted paragraph is whole only if inline tags and newlines are joined.
    Each h2 starts a new printed page (`page-break-before: always`), so `pdf_from_html`
    prints heading i + 1 and paragraph i + 1 (i ≥ 1) on page i + 1.
    """
    body = []
    for index, paragraph in enumerate(paragraphs):
        if index < len(headings):
            tag = "h1" if index == 0 else "h2"
            body.append(f"<{tag}>{html.escape(headings[index])}</{tag}>")
        first, *middle, last = [html.escape(word) for word in paragraph.split(" ")]
        body.append(
            f'<p><b>{first}</b> {" ".join(middle)}\n  <a href="https://example.org/">{last}</a></p>'
        )
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in table
    )
    links = " ".join(f'<a href="/{name.lower()}">{name}</a>' for name in NAV_TEXT)
    path.write_text(
        f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<script>var {SCRIPT_TEXT} = "<p>not a paragraph</p>";</script>
<style>.{STYLE_TEXT} {{ border: 1px solid red; }} h2 {{ page-break-before: always; }}</style>
</head>
<body>
<nav>{links}</nav>
{chr(10).join(body)}
<table>
{rows}
</table>
</body>
</html>
""",
        encoding="utf-8",
    )
    return path


def pdf_from_html(html_path: Path, pdf_path: Path) -> Path:
    """`html_path` printed to `pdf_path` by headless Chromium, without the date, title, URL
    and page number it prints in the margins by default (`--no-pdf-header-footer`; this
    Chromium ignores the older `--print-to-pdf-no-header`)."""
    pdf_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        run = subprocess.run(
            [
                CHROMIUM,
                *CHROMIUM_ARGS,
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf_path}",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=CHROMIUM_TIMEOUT,
            check=False,
        )
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise RuntimeError(
            f"chromium printed no PDF of {html_path} (exit {run.returncode}):\n{run.stderr}"
        )
    return pdf_path


def docx_file(
    path: Path,
    title: str,
    paragraphs: Sequence[str],
    table: Sequence[Sequence[str]] = TABLE,
    heading: str = "Equipment",
) -> Path:
    """A Word file: `title` in the Title style, the body paragraphs, then `heading` in the
    Heading 1 style above a table of `table`'s rows."""
    document = docx.Document()
    document.add_heading(title, level=0)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.add_heading(heading, level=1)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for row, cells in zip(grid.rows, table, strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.save(str(path))
    return path


def encrypted_pdf(src: Path, dst: Path, password: str = "keeper") -> Path:
    """`src` encrypted (RC4-128, which pypdf writes without extra packages) so that it
    opens only with `password`."""
    writer = PdfWriter(clone_from=src)
    writer.encrypt(user_password=password, owner_password=f"{password}-owner")
    writer.write(dst)
    return dst


class _OpensslAES(CryptBase):
    """AES-CBC encryption through the `openssl` command, for pypdf to write AES PDFs on a
    machine without the `cryptography` package (pypdf's own fallback refuses AES)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def encrypt(self, data: bytes) -> bytes:
        iv = os.urandom(16)
        cipher = f"-aes-{len(self.key) * 8}-cbc"
        command = ["openssl", "enc", cipher, "-K", self.key.hex(), "-iv", iv.hex()]
        return iv + subprocess.run(command, input=data, capture_output=True, check=True).stdout


def owner_locked_pdf(src: Path, dst: Path) -> Path:
    """`src` encrypted with AES-128 and only an owner password: anyone may open and read it
    (the common "protected" PDF that forbids editing), but its streams are AES-encrypted."""
    writer = PdfWriter(clone_from=src)
    with mock.patch("pypdf._encryption.CryptAES", _OpensslAES):
        writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
        writer.write(dst)
    return dst


def image_only_pdf(path: Path) -> Path:
    """A two-page PDF that shows only drawings (an inline SVG on each page) and has no text
    layer, like a scan that was never OCR'd."""
    drawing = (
        '<svg width="400" height="300"><rect width="400" height="300" fill="#8ab"/>'
        '<circle cx="200" cy="150" r="90" fill="#fd4"/></svg>'
    )
    page = f'<div style="page-break-after: always">{drawing}</div>{drawing}'
    with tempfile.TemporaryDirectory(prefix="image-page-") as folder:
        source = Path(folder) / "drawing.html"
        source.write_text(f"<!DOCTYPE html><html><body>{page}</body></html>", encoding="utf-8")
        return pdf_from_html(source, path)


def bad_font_pdf(path: Path) -> Path:
    """A hand-written one-page PDF whose font's /ToUnicode map holds a 20-byte character
    code, which no font has: a damaged font table, which pypdf refuses to parse."""
    cmap = b"begincmap\n1 beginbfchar\n<" + b"41" * 20 + b"> <0041>\nendbfchar\nendcmap"
    text = b"BT /F1 12 Tf 72 700 Td (A lamp) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap),
    ]
    path.write_bytes(pdf_file(objects))
    return path


def corrupt_pdf(path: Path) -> Path:
    """A PDF header followed by 4 KiB of random bytes (the same on every run)."""
    path.write_bytes(b"%PDF-1.7\n" + random.Random(7).randbytes(4096))
    return path


def corrupt_docx(path: Path) -> Path:
    """A zip file's signature followed by 4 KiB of random bytes: not a zip, nor a Word file."""
    path.write_bytes(b"PK\x03\x04" + random.Random(7).randbytes(4096))
    return path


def broken_xml_docx(src: Path, dst: Path) -> Path:
    """The Word file `src` with word/document.xml cut in half: a sound zip of damaged XML."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "word/document.xml":
                data = data[: len(data) // 2]
            new.writestr(item, data)
    return dst


def deep_html(path: Path, depth: int, text: str) -> Path:
    """An HTML page whose one paragraph holds `text` inside `depth` nested <span>s."""
    path.write_text(
        f"<!DOCTYPE html><html><body><p>{'<span>' * depth}{text}{'</span>' * depth}</p>"
        "</body></html>",
        encoding="utf-8",
    )
    return path


def zip_bomb_docx(src: Path, dst: Path, paragraph: str, repeats: int, whole: bool = True) -> Path:
    """The Word file `src` whose word/document.xml is one paragraph of `paragraph` repeated
    `repeats` times, compressed: a small file that expands to gigabytes of XML. When not
    `whole`, the XML stops after the paragraphs, never closed: damaged at its very end."""
    body = f"<w:p><w:r><w:t>{html.escape(paragraph)}</w:t></w:r></w:p>".encode()
    with zipfile.ZipFile(src) as old:
        start, _, end = old.read("word/document.xml").partition(b"<w:body>")
        end = end[end.index(b"<w:sectPr") :] if whole else b""
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as new:
            for item in old.infolist():
                if item.filename != "word/document.xml":
                    new.writestr(item, old.read(item.filename))
            with new.open("word/document.xml", "w", force_zip64=True) as xml:
                xml.write(start + b"<w:body>")
                block = body * 10_000
                for _ in range(repeats // 10_000):
                    xml.write(block)
                xml.write(body * (repeats % 10_000) + end)
    return dst


def many_page_pdf(path: Path, pages: int) -> Path:
    """A PDF of `pages` blank pages, small on disk: its page tree lists one page object
    `pages` times."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b"3 0 R " * pages + b"] /Count %d >>" % pages,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    path.write_bytes(pdf_file(objects))
    return path


def long_text(sentences: int) -> str:
    """A plain text of `sentences` distinct sentences, long enough to make a build slow."""
    return " ".join(
        f"Harbour report {number} says ferry {number} left pier {number % 7} on time."
        for number in range(sentences)
    )
