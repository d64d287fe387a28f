"""The `docqa` command: index the sources, ask a question, run the eval suite."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.edge import argument_text, guarded, printable
from rag.presentation import dropped_note
from rag.types import Answer, Turn


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 1 failure)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval"]:  # the eval suite parses its own options
        argv = ["eval", "--", *argv[1:]]
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="docqa: %(message)s")
    return guarded("docqa", lambda: args.run(args))


def _index(args: argparse.Namespace) -> int:
    from rag.chain import default_docqa
    from rag.documents import describe_skipped

    # The report below names the skipped files and a rebuilt index: the engine's own warnings
    # of them would say it twice.
    engine_log = logging.getLogger("rag.chain")
    level = engine_log.level
    engine_log.setLevel(logging.ERROR)
    try:
        report = default_docqa().index(progress=sys.stderr.isatty())
    finally:
        engine_log.setLevel(level)
    if report.recovered:
        print(printable(f"the old index was damaged ({report.recovered}) and has been rebuilt"))
    print(
        printable(
            f"{_count(report.documents, 'document')}, {_count(report.chunks, 'chunk')}, "
            f"{_count(report.sentences, 'sentence')}, {_count(report.clauses, 'clause')}; "
            f"embedded {_count(report.embedded, 'sentence')}"
            + (
                f"; re-indexed {', '.join(report.changed)}"
                if report.changed
                else "; nothing changed"
            )
            + (f"; removed {', '.join(report.removed)}" if report.removed else "")
        )
    )
    if report.skipped:
        print(printable(describe_skipped(report.skipped)))
    if report.held:
        print(printable(f"kept the copies indexed before of {', '.join(report.held)}"))
    return 0


def history_json(value: str) -> list[Turn | str]:
    """The --history-json argument as history items; an argparse error says what is wrong.

    history_json('[["Who scored?", "Reilly."]]') -> [Turn("Who scored?", "Reilly.")]
    history_json('{"question": "Who scored?", "text": "Reilly."}') -> the same, one turn
    """
    try:
        if value.startswith("@"):
            where = value[1:]
            value = sys.stdin.read() if where == "-" else Path(where).read_text(encoding="utf-8")
        if _nesting(value) > MAX_HISTORY_DEPTH:
            raise _too_deep()
        items = json.loads(value)
    except (OSError, UnicodeDecodeError) as error:
        raise argparse.ArgumentTypeError(f"cannot read {value[1:]!r}: {error}") from None
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error.msg} at {error.pos})") from None
    except RecursionError:  # the parser's own limit, should the count above miss a case
        raise _too_deep() from None
    if isinstance(items, dict):  # one turn, as `docqa ask --json` prints it
        items = [items]
    if not isinstance(items, list):
        raise argparse.ArgumentTypeError(
            "must be a JSON list of the earlier turns, or one turn as `docqa ask --json` prints it"
        )
    return [_history_item(number, item) for number, item in enumerate(items, 1)]


# Lists and objects inside one another in --history-json: a list of turns as `docqa ask --json`
# prints them is 3 deep; far deeper input would exhaust the parser's recursion.
MAX_HISTORY_DEPTH = 16
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _nesting(text: str) -> int:
    """How deep lists and objects lie inside one another in the JSON `text` (brackets in its
    strings are not counted), counted up to one past MAX_HISTORY_DEPTH:
    _nesting('[["a]"]]') -> 2."""
    depth = deepest = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_HISTORY_DEPTH:
            break
    return deepest


def _too_deep() -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(
        f"nested more than {MAX_HISTORY_DEPTH} lists or objects deep: give a list of "
        "questions, [question, answer] pairs, or turns as `docqa ask --json` prints them"
    )


def _history_item(number: int, item: object) -> Turn | str:
    if isinstance(item, str):
        return item
    if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
        return Turn(item[0], item[1])
    if isinstance(item, dict) and isinstance(item.get("question"), str):
        said = item.get("text", item.get("answer", ""))
        short = item.get("short") or ""
        short = short.get("quote", "") if isinstance(short, dict) else short
        if isinstance(said, str) and isinstance(short, str):
            abstained = item.get("abstained") is True
            return Turn(item["question"], "" if abstained else said, "" if abstained else short)
    raise argparse.ArgumentTypeError(
        f"turn {number} must be a question, a [question, answer] pair, or an object with "
        '"question" and "text" (as `docqa ask --json` prints it)'
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _ask(args: argparse.Namespace) -> int:
    from rag.chain import default_docqa

    docqa = default_docqa()
    history = [*args.history, *(args.history_json or [])]
    if args.json or docqa.chat_model is None:  # no language model: nothing to stream
        result = docqa.answer(args.question, history)
    else:
        result = _streamed(docqa.stream(args.question, history))
    if args.json:
        payload = {
            "question": args.question,
            "searched": result.question,  # with the conversation's references resolved
            "text": result.text,
            "abstained": result.abstained,
            "hedged": result.hedged,
            "short": asdict(result.short) if result.short else None,
            "confidence": round(result.confidence, 4),
            "citations": [asdict(citation) for citation in result.citations],
            "reader": result.reader,
            "dropped": result.dropped,
            "note": result.note,
        }
        print(as_json(payload))
        return 0
    print(printable(result.as_text(docqa.corpus.documents)))  # what the UI copies
    if result.note:
        print(printable(f"\n({result.note})"))
    return 0


def _streamed(events: Iterable[Any]) -> Answer:
    """Show the model's reply as it comes, then return the final answer. The draft goes to
    the terminal, or to standard error when standard output is not one, so a pipe gets only
    the verified answer; a line then says how many sentences the verifier dropped, and why."""
    from rag.types import Done, Token, Verdict

    draft = sys.stdout if sys.stdout.isatty() else sys.stderr
    drafted = False
    reasons: list[str] = []
    for event in events:
        if isinstance(event, Token) and event.text:
            print(printable(event.text), end="", file=draft, flush=True)
            drafted = True
        elif isinstance(event, Verdict) and not event.kept:
            reasons.append(event.reason)
        elif isinstance(event, Done):
            if drafted:
                print(f"\n\n{VERIFIED_RULE}", file=draft, flush=True)
            if reasons:
                print(printable(dropped_note(reasons)), file=draft, flush=True)
            return event.answer
    raise RuntimeError("the answer stream ended without its final answer")


VERIFIED_RULE = "── verified: every sentence cites the source ──"


# JSON escapes C0 controls itself; these are escaped here too, so nothing reaches the terminal
# raw and the output is valid UTF-8 (a lone surrogate, such as a file name's byte that is not
# UTF-8, has no UTF-8 form), while the JSON still holds the exact text.
_JSON_ESCAPED = re.compile("[\x80-\x9f\ud800-\udfff]")


def as_json(payload: object) -> str:
    """`payload` as JSON that is valid UTF-8 and safe on a terminal, exact when read back:
    as_json({"q": "\\x9b\\udcff"}) holds the escapes "\\u009b" and "\\udcff"."""
    dumped = json.dumps(payload, ensure_ascii=False, indent=2)
    return _JSON_ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def _eval(args: argparse.Namespace) -> int:
    """`python -m evals` with the same options, in a process of its own (rag imports nothing
    of the eval suite); its output and exit status are docqa's."""
    import subprocess

    suite = subprocess.Popen([sys.executable, "-m", "evals", *args.rest])
    try:
        status = suite.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches the suite too: it says so and ends
        status = suite.wait()
    return status if status >= 0 else 128 - status  # killed by a signal: 128 + its number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docqa", description="Answer questions about documents with verified citations."
    )
    commands = parser.add_subparsers(required=True, metavar="command")

    index = commands.add_parser("index", help="build or refresh the index of the source folder")
    index.set_defaults(run=_index)

    ask = commands.add_parser("ask", help="answer a question, quoting the source")
    ask.add_argument("question", type=argument_text)
    ask.add_argument(
        "--history",
        action="append",
        default=[],
        type=argument_text,
        metavar="EARLIER",
        help="an earlier question of the conversation (repeat, oldest first)",
    )
    ask.add_argument(
        "--history-json",
        type=history_json,
        metavar="JSON",
        help="the earlier turns with their answers, oldest first: a JSON list of questions, "
        '[question, answer] pairs, or objects as `docqa ask --json` prints them ("question", '
        '"text", "short"), or one such object; read from a file with @FILE, from standard '
        "input with @-",
    )
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(run=_ask)

    evaluate = commands.add_parser("eval", help="run the eval suite (see python -m evals -h)")
    evaluate.add_argument("rest", nargs=argparse.REMAINDER)
    evaluate.set_defaults(run=_eval)
    return parser


if __name__ == "__main__":
    sys.exit(main())
