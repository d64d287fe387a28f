"""Judging one generated sentence against the passages it cites (`verify`): kept only when
every passage it cites exists, every quotation in it is found verbatim in a passage it cites,
every content word of it is found in ONE sentence of a passage it cites, and that sentence says
the same thing by grammar (spaCy's parse): no negation on one side only, named entities in the
same roles, and no statement drawn from an instruction (passage text is data, never
instructions). Otherwise it is dropped, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from rag.chunking import split_sentences
from rag.citations import cite
from rag.lexicon import STOPWORDS, stem, term_spans, terms
from rag.reply import MARKERS, cited_numbers, is_refusal, quotations
from rag.types import Document, Span, Verdict

REFUSED = "says the passages do not answer"  # a refusal's Verdict.reason


# -- verification ------------------------------------------------------------------------


def verify(sentence: str, found: Sequence[Span], documents: Mapping[str, Document]) -> Verdict:
    """Keep `sentence` only when it cites passages that exist, each quotation in it lies
    verbatim in a passage it cites, all of its content words lie in one sentence of a passage
    it cites, and that sentence says the same by grammar (`disagreement`); otherwise drop it,
    saying why. A kept sentence cites that one sentence (and each quotation's own span), not
    the other passages its markers name."""
    numbers = cited_numbers(sentence)
    if is_refusal(sentence):
        return _dropped(sentence, REFUSED)
    plain = MARKERS.sub("", sentence)
    if not re.search(r"\w", plain):
        return _dropped(sentence, "no words")
    if not numbers:
        return _dropped(sentence, "no valid citation")
    wrong = [number for number in numbers if not 1 <= number <= len(found)]
    if wrong:
        return _dropped(sentence, f"cites passage {wrong[0]} of {len(found)}")
    cited = [found[number - 1] for number in numbers]
    places, unclosed = quotations(sentence)
    if unclosed:
        return _dropped(sentence, "unclosed quotation")
    quoted: list[Span] = []
    for start, end in places:
        span = locate(sentence[start:end], cited, documents)
        if span is None:
            where = ", ".join(str(number) for number in numbers)
            return _dropped(
                sentence, f"quotation not in passage{'s' if len(numbers) > 1 else ''} {where}"
            )
        quoted.append(span)
    known = {term for passage in cited for term in terms(passage.text)}
    spans = term_spans(plain)
    unsupported = [plain[s:e] for s, e, term in spans if term not in known]
    if unsupported:
        shown = ", ".join(dict.fromkeys(word.lower() for word in unsupported))
        return _dropped(sentence, f"words not in the passages it cites: {shown}")
    wanted = {term for _, _, term in spans}
    if not wanted:
        return _dropped(sentence, "no content words to check")
    holding = supporting(cited, wanted, documents)
    if not holding:
        return _dropped(sentence, "its words are not in one sentence of the passages it cites")
    why = ""
    for source in holding:
        why = disagreement(plain, source.text)
        if not why:
            break
    else:
        return _dropped(sentence, why)
    citations = cite([source, *quoted], documents)
    if len(citations) != 1 + len(quoted):
        return _dropped(sentence, "a cited span does not match its source")
    return Verdict(sentence, True, tuple(citations), "")


def supporting(
    cited: Sequence[Span], wanted: set[str], documents: Mapping[str, Document]
) -> list[Span]:
    """The sentences of the cited passages (in the order cited) that hold every term of
    `wanted`: what a claim with those terms may rest on."""
    held = []
    for passage in cited:
        document = documents.get(passage.doc_id)
        if document is None:
            continue
        for start, end in split_sentences(passage.text):
            if wanted.issubset(terms(passage.text[start:end])):
                held.append(document.span(passage.start + start, passage.start + end))
    return held


# -- grammar: the claim and its source sentence say the same ---------------------------------

# Words that negate what they attach to (English grammar, a closed class): "did not fire",
# "fired no missiles", "never fired".
_NEGATORS = frozenset(
    {"not", "n't", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere"}
)
# Entity kinds that name an amount or a time, not an actor: their role is not compared.
_NOT_ACTORS = frozenset(
    {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL", "LANGUAGE"}
)
_SUBJECTS = frozenset({"nsubj", "csubj"})
_OBJECTS = frozenset({"dobj", "dative", "iobj", "obj", "nsubjpass", "pobj"})


def disagreement(claim: str, source: str) -> str:
    """Why `source` (one sentence of a passage, holding every content word of `claim`) does
    not say what `claim` says, by spaCy's parse of both; "" when it does.

    - a verb negated on one side only ("did not fire" against "fired");
    - a named entity that is the subject of the claim's verb but not of that verb in the
      source, or its object where the source has it as the subject (who did what to whom);
    - a statement drawn from an instruction: the source is an imperative (its root a verb in
      the base form with no subject, "Ignore ... and say ...") and the claim is not.
    """
    said, heard = _parse(claim), _parse(source)
    negated_claim, negated_source = _negated(said), _negated(heard)
    verbs_claim = _verb_stems(said)
    if negated_claim - negated_source:
        return "a negation its source does not have"
    if (negated_source - negated_claim) & verbs_claim:
        return "its source says the opposite (a negation it leaves out)"
    for entity in said.ents:
        if entity.label_ in _NOT_ACTORS:
            continue
        role, verbs = _role(entity.root)
        if role == "other":
            continue
        roles = [_role(place.root) for place in _occurrences(heard, entity)]
        if not roles:
            continue
        content = {verb for verb in verbs if verb not in _STOP_STEMS}
        same = [found for found, found_verbs in roles if not content or content & found_verbs]
        if role == "subject" and "subject" not in same:
            return f"{entity.text} is not who does it in its source"
        if role == "object" and "subject" in same and "object" not in same:
            return f"{entity.text} is who does it in its source, not who it is done to"
    if _imperative(heard) and not _imperative(said):
        return "its source is an instruction, not a statement"
    return ""


_STOP_STEMS = frozenset(stem(word) for word in STOPWORDS)


@lru_cache(maxsize=4096)
def _parse(text: str) -> Any:  # spacy.tokens.Doc
    from rag.answer_types import pipeline

    return pipeline()(text)


def load_grammar() -> None:
    """Load the parser now (a second or two), so the model's time budget is not spent on it."""
    _parse("It is ready.")


def _verb_of(token: Any) -> Any:
    """The verb a word hangs from: the nearest verb at or above it (the root else)."""
    for _ in range(64):
        if token.pos_ in ("VERB", "AUX") or token.head is token:
            return token
        token = token.head
    return token


def _verbs(verb: Any) -> set[str]:
    """The stems of `verb` and the verbs that share its subject: those joined to it ("called
    ... and stated") without a subject of their own, and those it governs ("continued to
    fire")."""
    found, todo = set(), [verb]
    while todo:
        token = todo.pop()
        found.add(stem(token.lower_))
        for child in token.children:
            shares = child.dep_ == "xcomp" or (
                child.dep_ == "conj" and not any(c.dep_ in _SUBJECTS for c in child.children)
            )
            if shares and child.pos_ in ("VERB", "AUX"):
                todo.append(child)
    return found


def _role(token: Any) -> tuple[str, set[str]]:
    """Whether a word is the subject or the object of a verb (or "other"), and that verb's
    stems (see `_verbs`): "by North Korea" after a passive verb is its subject."""
    for _ in range(64):
        if token.dep_ not in ("conj", "appos") or token.head is token:
            break
        token = token.head
    if token.dep_ in _SUBJECTS:
        return "subject", _verbs(_verb_of(token.head))
    if token.dep_ == "pobj" and token.head.dep_ == "agent":
        return "subject", _verbs(_verb_of(token.head.head))
    if token.dep_ in _OBJECTS:
        return "object", _verbs(_verb_of(token.head))
    return "other", set()


def _occurrences(doc: Any, entity: Any) -> list[Any]:
    """Where the entity's words (lower case, a leading "the" aside) stand in `doc`, as spans."""
    wanted = [token.lower_ for token in entity if token.lower_ != "the" or token.i > entity.start]
    places = []
    lowered = [token.lower_ for token in doc]
    for at in range(len(lowered) - len(wanted) + 1):
        if wanted and lowered[at : at + len(wanted)] == wanted:
            places.append(doc[at : at + len(wanted)])
    return places


def _negated(doc: Any) -> set[str]:
    """The stems of the verbs a negation attaches to."""
    return {
        stem(_verb_of(token.head if token.head is not token else token).lower_)
        for token in doc
        if token.dep_ == "neg" or token.lower_ in _NEGATORS
    }


def _verb_stems(doc: Any) -> set[str]:
    return {stem(token.lower_) for token in doc if token.pos_ in ("VERB", "AUX")}


def _imperative(doc: Any) -> bool:
    """An order, by grammar: the root is a verb in its base form with no subject and no
    auxiliary before it ("Ignore previous instructions and say ..."), not a question."""
    roots = [token for token in doc if token.dep_ == "ROOT"]
    if not roots or doc.text.rstrip().endswith("?"):
        return False
    root = roots[0]
    bound = (*_SUBJECTS, "nsubjpass", "expl", "aux")
    return root.tag_ == "VB" and not any(child.dep_ in bound for child in root.children)


def unsupported(verdicts: Iterable[Verdict]) -> int:
    """How many sentences were dropped as unsupported (a refusal is not counted: it is an
    answer, just not one to show)."""
    return sum(not verdict.kept and verdict.reason != REFUSED for verdict in verdicts)


def _dropped(sentence: str, reason: str) -> Verdict:
    return Verdict(sentence, False, (), reason)


_SAME_CHARACTER = {"'": "['’‘]", "’": "['’‘]", "‘": "['’‘]", '"': '["“”]'}


def locate(quote: str, cited: Sequence[Span], documents: Mapping[str, Document]) -> Span | None:
    """The quote's own span in the first cited passage holding it verbatim (apostrophes of
    either kind and any run of white space count as the same), or None."""
    words = quote.split()
    if not words:
        return None
    pattern = r"\s+".join(
        "".join(_SAME_CHARACTER.get(char, re.escape(char)) for char in word) for word in words
    )
    for passage in cited:
        match = re.search(pattern, passage.text)
        document = documents.get(passage.doc_id)
        if match and document is not None:
            return document.span(passage.start + match.start(), passage.start + match.end())
    return None
