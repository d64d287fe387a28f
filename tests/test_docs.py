"""Every example in README.md and docs/*.md is run, so the docs cannot drift from the code.

The rules a page's fenced blocks follow:
- ```sh: each line starting with `$ ` is a command, run by bash in the project root; the
  lines after it, up to the next `$ `, are what it prints (standard output, then standard
  error).
- ```python: a doctest session (`>>> `), run in this process.
- In an expected output, `...` stands for any text (a path, a date, a timing); trailing
  white space and blank lines at the ends are ignored. Nothing else is loose.
- ```sh no-run: commands that cannot run in a test (a server, `make test` itself); each
  must be listed in NOT_RUN below with the reason. ```text: a diagram, never run.
Each page runs in order against the seed article, in an index folder of its own.
"""

from __future__ import annotations

import dataclasses
import doctest
import os
import re
import subprocess
from pathlib import Path

import pytest

from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_WORDS = 1500
# The commands shown but never run, and why.
NOT_RUN = {
    "make run": "starts the UI and serves until stopped",
    "make test": "runs every test, this one included",
    "DOCQA_SOURCE_DIR=~/papers make run": "a folder of the reader's, and the UI",
    ".venv/bin/chroma run": "a Chroma server (tests/test_chroma_server.py runs one)",
    "DOCQA_CHROMA_HOST=": "needs that server",
    "DOCQA_LLM=": "a language model or its server (tests/test_llm.py, test_generation.py)",
    ".venv/bin/python -m evals --squad": "the SQuAD benchmark takes many minutes",
}
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _blocks(page: Path) -> list[tuple[str, str, int]]:
    """The fenced blocks of `page`: (info string, body, line number)."""
    text = page.read_text(encoding="utf-8")
    return [
        (match[1].strip(), match[2], text.count("\n", 0, match.start()) + 1)
        for match in _FENCE.finditer(text)
    ]


def _matches(expected: str, actual: str) -> bool:
    """`actual` as `expected` says, `...` standing for any text:
    _matches("took ... s", "took 4.2 s") -> True."""

    def tidy(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip("\n")

    pattern = ".*?".join(re.escape(piece) for piece in tidy(expected).split("..."))
    return re.fullmatch(pattern, tidy(actual), re.S) is not None


def _commands(body: str) -> list[tuple[str, str]]:
    """A ```sh block's (command, expected output) pairs."""
    pairs: list[tuple[str, str]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], ""))
        elif pairs:
            pairs[-1] = (pairs[-1][0], pairs[-1][1] + line + "\n")
        elif line.strip():
            raise AssertionError(f"a line before the first `$ ` command: {line!r}")
    return pairs


@pytest.fixture
def page_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment a page's examples run in: the seeds, an index folder of their own,
    this checkout's `rag` first on the path; no DOCQA_* setting of the caller's."""
    for name in list(os.environ):
        if name.startswith("DOCQA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DOCQA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("DOCQA_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return dict(os.environ)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_example_runs_as_shown(page: Path, page_env: dict[str, str]) -> None:
    results = ROOT / "evals" / "results"
    reports = set(results.glob("*")) if results.is_dir() else set()
    globs: dict[str, object] = {}
    try:
        for info, body, line in _blocks(page):
            where = f"{page.name}:{line}"
            if info == "sh":
                for command, expected in _commands(body):
                    done = subprocess.run(
                        ["bash", "-c", command],
                        capture_output=True,
                        text=True,
                        cwd=ROOT,
                        env=page_env,
                        timeout=300,
                    )
                    shown = done.stdout + done.stderr
                    assert _matches(expected, shown), (
                        f"{where}: `{command}` printed\n{shown}\nnot\n{expected}"
                    )
            elif info == "python":
                test = doctest.DocTestParser().get_doctest(body, globs, where, str(page), line)
                runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
                runner.run(test, clear_globs=False)
                globs = test.globs  # a page's later blocks see its earlier names
                assert not runner.failures, f"{where}: the example above failed"
    finally:
        if results.is_dir():  # the eval examples' reports, not kept
            for made in set(results.glob("*")) - reports:
                made.unlink()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_block_is_run_or_says_why_not(page: Path) -> None:
    for info, body, line in _blocks(page):
        where = f"{page.name}:{line}"
        assert info in ("sh", "python", "sh no-run", "text"), f"{where}: a ```{info} block"
        if info == "sh":
            assert _commands(body), f"{where}: a ```sh block with no `$ ` command"
        elif info == "python":
            assert ">>> " in body, f"{where}: a ```python block that is no doctest session"
        elif info == "sh no-run":
            for command in filter(None, (line.split("#")[0].strip() for line in body.splitlines())):
                assert any(command.startswith(known) for known in NOT_RUN), (
                    f"{where}: `{command}` is not run: run it (```sh) or add it to NOT_RUN"
                )


def test_every_setting_is_in_the_configuration_table() -> None:
    table = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    names = [f"DOCQA_{field.name.upper()}" for field in dataclasses.fields(Settings)]
    for name in [*names, "DOCQA_DEBUG"]:
        assert f"| `{name}` |" in table, f"{name} is not in docs/configuration.md's table"


def test_the_readme_is_short() -> None:
    words = len((ROOT / "README.md").read_text(encoding="utf-8").split())  # as `wc -w` counts
    assert words <= README_MAX_WORDS, f"README.md is {words} words; move some to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_resolves(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s):, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.*)$", linked.read_text(encoding="utf-8"), re.M)
            slugs = {_slug(heading) for heading in headings}
            assert anchor in slugs, f"{page.name}: no heading #{anchor} in {linked.name}"


def test_every_module_has_its_line_in_the_architecture() -> None:
    """Each module of the packages is named in docs/architecture.md (tracked files only, so a
    module being written is not held to it until it is committed)."""
    listed = subprocess.run(
        ["git", "ls-files", "rag/*.py", "webui/*.py", "evals/*.py", "training/*.py", "bench/*.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for module in listed.stdout.split():
        name = module if not module.startswith("rag/") else module.removeprefix("rag/")
        assert f"`{name}`" in page, f"{module} has no line in docs/architecture.md"


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it:
    _slug("On a Chroma server") -> "on-a-chroma-server"."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")
