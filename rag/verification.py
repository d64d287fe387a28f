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
from dataclasses import replace
from functools import lru_cache
from typing import Any

from rag import binding, quotes, scope, support
from rag.chunking import split_sentences
from rag.citations import cite
from rag.lexicon import STOPWORDS, stem
from rag.reply import MARKERS, cited_numbers, is_refusal, quotations
from rag.types import Document, Span, Verdict

REFUSED = "says the passages do not answer"  # a refusal's Verdict.reason


# -- verification ------------------------------------------------------------------------


def verify(
    sentence: str,
    found: Sequence[Span],
    documents: Mapping[str, Document],
    *,
    question: str = "",
    previous: Verdict | None = None,
) -> Verdict:
    """Keep `sentence` only when each quotation in it lies in a passage it cites and each of
    its claims (a clause, rag.support) is stated in one sentence of those passages: its
    content words there by lemma, stem or, for the rest, a paraphrase the support model
    accepts; its names and amounts all in that sentence; the same by grammar
    (`disagreement`). A sentence with no valid marker is checked against every passage, and
    kept as attributed by docqa when one states it. A kept sentence cites the sentences that
    state it (and each quotation's own span), not the other passages its markers name;
    otherwise it is dropped, saying why. Given the `question` the reply answers, a claim
    about a thing the question restricts ("the motion" of "the electric vehicle charging
    motion") must be stated where the document speaks of that thing (rag.scope); so must
    one whose subject points back ("It ...") unless the reply's `previous` sentence, which
    it points to, was kept."""
    if is_refusal(sentence):
        return _dropped(sentence, REFUSED)
    plain = " ".join(MARKERS.sub("", sentence).split())
    if not re.search(r"\w", plain):
        return _dropped(sentence, "no words")
    numbers = cited_numbers(sentence)
    valid = [number for number in numbers if 1 <= number <= len(found)]
    places, unclosed = quotations(plain)
    if unclosed:
        return _dropped(sentence, "unclosed quotation")
    anchored = previous is not None and previous.kept
    if not valid or len(valid) < len(numbers):
        # no marker, or one naming a passage that is not there: docqa finds the passage
        verdict = _judge(sentence, plain, places, list(found), documents, question, anchored)
        if verdict.kept:
            return replace(verdict, attributed=True)
        if numbers:
            wrong = next(number for number in numbers if number not in valid)
            return _dropped(sentence, f"cites passage {wrong} of {len(found)}")
        return _dropped(sentence, f"no valid citation, and {verdict.reason}")
    cited = [found[number - 1] for number in valid]
    return _judge(sentence, plain, places, cited, documents, question, anchored)


def _judge(
    sentence: str,
    plain: str,
    places: Sequence[tuple[int, int]],
    cited: Sequence[Span],
    documents: Mapping[str, Document],
    question: str = "",
    anchored: bool = False,
) -> Verdict:
    """`verify` once the passages a sentence rests on are known. A quotation found one word
    off (rag.quotes) is shown with the source's words in the kept sentence."""
    quoted: list[Span] = []
    shown = sentence
    for start, end in places:
        quote = plain[start:end]
        span = locate(quote, cited, documents)
        if span is not None and quotes.words(span.text) != quotes.words(quote):
            # one word off: shown as the source has it, so what is quoted is what was said
            inside = any(mark in span.text for mark in '"“”')
            span = None if inside or quote not in shown else span
            shown = shown.replace(quote, span.text, 1) if span is not None else shown
        if span is None:
            where = _numbers(sentence)
            return _dropped(sentence, f"quotation not in the passages it cites{where}")
        quoted.append(span)
    claims = support.claims(_unauthored(_unquoted(plain, places), cited, documents))
    if not any(claim.words or claim.names or claim.amounts for claim in claims):
        return _dropped(sentence, "no content words to check")
    sources = _sentences(cited, documents)
    support.parse_all([source.text for source in sources])
    stating: list[Span] = []
    for claim in claims:
        if not (claim.words or claim.names or claim.amounts):
            continue
        best, why = _stated(claim, sources, documents, plain, (question, anchored, cited))
        if best is None:
            return _dropped(sentence, why)
        if best not in stating:
            stating.append(best)
    citations = cite([*stating, *quoted], documents)
    if len(citations) != len(stating) + len(quoted):
        return _dropped(sentence, "a cited span does not match its source")
    return Verdict(shown, True, tuple(citations), "")


def _numbers(sentence: str) -> str:
    numbers = cited_numbers(sentence)
    return "" if not numbers else " (" + ", ".join(str(number) for number in numbers) + ")"


def _sentences(cited: Sequence[Span], documents: Mapping[str, Document]) -> list[Span]:
    """The sentences of the cited passages, in the order cited."""
    found = []
    for passage in cited:
        document = documents.get(passage.doc_id)
        if document is None:
            continue
        for start, end in split_sentences(passage.text):
            span = document.span(passage.start + start, passage.start + end)
            if span not in found:
                found.append(span)
    return found


def _stated(
    claim: support.Claim,
    sources: Sequence[Span],
    documents: Mapping[str, Document],
    sentence: str,
    asked: tuple[str, bool, Sequence[Span]] = ("", False, ()),
) -> tuple[Span | None, str]:
    """The source sentence that states the claim (a clause of `sentence`), or None and why
    none does."""
    ranked = []
    for at, source in enumerate(sources):
        held = support.facts(source.text)
        before = sources[at - 1] if at and sources[at - 1].doc_id == source.doc_id else None
        context = support.facts(before.text) if before and before.end <= source.start else None
        titles = _titles(documents.get(source.doc_id))
        anchors = support.missing_anchors(claim, held, titles, context)
        words = support.missing_words(claim.words, held, context, titles)
        ranked.append((len(anchors) + len(words), len(anchors), at, source, anchors, words))
    for at, joined in _joined(sources, documents, asked[2], claim):
        held = support.facts(joined.text)
        titles = _titles(documents.get(joined.doc_id))
        anchors = support.missing_anchors(claim, held, titles)
        words = support.missing_words(claim.words, held, None, titles)
        # after every single sentence (`at`): one sentence that states it is cited first
        item = (len(anchors) + len(words), len(anchors), len(sources) + at, joined)
        ranked.append((*item, anchors, words))
    if not ranked:
        return None, "no passage to check it against"
    ranked.sort(key=lambda item: item[:3])
    why = ""
    for _lost, lost_anchors, _at, source, anchors, words in ranked:
        if lost_anchors:
            shown = _shown([*anchors, *words])
            why = why or f"not in one sentence of the passages it cites: {shown}"
            break
        # in other words: only when most of its words are there and the model reads it so
        if words and (
            claim.literal
            or 2 * len(words) > len(claim.words)
            or _unnamed(claim, words, documents.get(source.doc_id))
            or not paraphrased(claim.text, source.text)
        ):
            why = why or f"words not in the passages it cites: {_shown(words)}"
            continue
        disagrees = disagreement(claim.text, source.text, sentence)
        if (
            not disagrees
            and words
            and not _negated(_parse(claim.text))
            and _negated(_parse(source.text))
        ):
            # in other words, and its source negates something it does not: the support
            # model reads "should be higher than 45" as "should not exceed 45"
            disagrees = "its source says the opposite (a negation it leaves out)"
        if not disagrees and _at >= len(sources):  # two sentences joined (`_joined`)
            first, second = sources[_at - len(sources) - 1], sources[_at - len(sources)]
            disagrees = mixed(claim.text, first.text, second.text)
        if disagrees:
            why = why or disagrees
            continue
        question, anchored, cited = asked
        where = scope.Where(source, documents.get(source.doc_id), _passage_of(source, cited))
        other = scope.unscoped(sentence, question, where, anchored)
        if other:
            why = why or f"said of something else than the question asks: {_shown(other)}"
            continue
        return source, ""
    return None, why


def _joined(
    sources: Sequence[Span],
    documents: Mapping[str, Document],
    cited: Sequence[Span],
    claim: support.Claim,
) -> list[tuple[int, Span]]:
    """Two neighbouring sentences of one passage, as one span, where the second is about
    what the first spoke of (rag.scope.points_back: "She proposed four chargers."), and the
    claim names the part the second picks out of it (rag.scope.part_of): a claim may join
    them ("Cllr Fenwick proposed four chargers"). Names, amounts, negations and
    roles are then checked against the two together."""
    found = []
    for at in range(1, len(sources)):
        first, second = sources[at - 1], sources[at]
        document = documents.get(second.doc_id)
        if document is None or first.doc_id != second.doc_id or first.end > second.start:
            continue
        passage = _passage_of(second, cited)
        if passage is None or passage != _passage_of(first, cited):
            continue
        if not scope.points_back(second.text):
            continue
        # "large parts of it can turn white" is not "it is white": the part is claimed too
        part = scope.part_of(second.text)
        said = {word.text.lower() for word in claim.words} | {
            f"{value.written:g}" for value in claim.amounts
        }
        if not part or part in said or _number_word(part) in said:
            found.append((at, document.span(first.start, second.end)))
    return found


_DEPENDENTS = frozenset({"dobj", "pobj", "attr", "acomp", "npadvmod", "oprd", "dative"})


def mixed(claim: str, first: str, second: str) -> str:
    """A verb of the claim whose objects and phrases are not all in one of two joined
    sentences that has it: the claim ties what one sentence says to the other's verb
    ("The ferry carried 40 passengers at noon." from "The ferry left Oban at noon. It
    carried 40 passengers to Mull."); "" when none is. Its subject may come from the
    other: that is what the second sentence's pronoun stands for."""
    held = [support.facts(first), support.facts(second)]

    def holds(facts: support.Facts, token: Any) -> bool:
        return token.lemma_.lower() in facts.lemmas or stem(token.lower_) in facts.stems

    for verb in _parse(claim):
        if verb.pos_ != "VERB" or not support.is_content(verb):
            continue
        subject = {
            t.i
            for c in verb.children
            if c.dep_ in ("nsubj", "nsubjpass", "csubj")
            for t in c.subtree
        }
        tied = [
            t
            for t in verb.subtree
            if t.dep_ in _DEPENDENTS
            and _verb_of(t.head).i == verb.i
            and support.is_content(t)
            and t.i not in subject
        ]
        if tied and not any(holds(f, verb) and all(holds(f, t) for t in tied) for f in held):
            words = _shown([t.text for t in tied])
            return f"joins two sentences: {verb.text} is not said with {words}"
    return ""


def _number_word(word: str) -> str:
    """A number word as digits ("six" -> "6"), else the word."""
    from rag.quantities import values

    found = values(word)
    return f"{found[0].written:g}" if found else word


def _passage_of(source: Span, cited: Sequence[Span]) -> Span | None:
    """The cited passage a source sentence is one of."""
    return next(
        (p for p in cited if p.doc_id == source.doc_id and p.start <= source.start < p.end),
        None,
    )


def _unnamed(claim: support.Claim, words: Sequence[str], document: Document | None) -> bool:
    """Whether a noun of the claim not found in the stating sentence is nowhere in its
    document: a thing the document never names ("the minister"), which no paraphrase of it
    can bring in (the support model reads "The ferry left Oban minister at noon." as "The
    ferry left Oban at noon." in other words)."""
    named = _named(document.text) if document is not None else frozenset()
    return any(
        word.pos in ("NOUN", "PROPN") and word.lemma not in named and word.stem not in named
        for word in claim.words
        if word.text in words
    )


@lru_cache(maxsize=16)
def _named(text: str) -> frozenset[str]:
    """Every word of a document, lower case, and its stem."""
    found = set(re.findall(r"\w+", text.lower()))
    return frozenset(found | {stem(word) for word in found})


def _unauthored(text: str, cited: Sequence[Span], documents: Mapping[str, Document]) -> str:
    """The sentence with the author of a cited document (rag.scope.authors) read as the
    document: "Nadia Ferreira explains that X" claims what "the document explains that X"
    does, X."""
    for doc_id in dict.fromkeys(passage.doc_id for passage in cited):
        document = documents.get(doc_id)
        for name in scope.authors(document) if document is not None else ():
            text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "the document", text)
    return text


def _unquoted(plain: str, places: Sequence[tuple[int, int]]) -> str:
    """The sentence as it claims: a quotation's words stay (they are claimed too)."""
    return plain


def _shown(words: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(word.lower() for word in words))


@lru_cache(maxsize=256)
def _titles_of(text: str, headings: tuple[tuple[int, int], ...]) -> str:
    first = text.lstrip().split("\n", 1)[0]
    # a first line is a title when it is short and not a sentence
    title = first if len(first) <= 100 and not first.rstrip().endswith((".", "!", "?")) else ""
    parts = [title, *(text[start:end] for start, end in headings)]
    return " ".join(" ".join(parts).lower().split())


def _titles(document: Document | None) -> str:
    """A document's title (its first line) and headings, lower case: what its passages are
    about, so a name from there need not be repeated in each sentence."""
    return "" if document is None else _titles_of(document.text, document.headings)


# The support model's probability at or above which a source sentence states a claim in other
# words. Chosen on the choose half of data/verifier/replies.jsonl (no unfaithful claim there
# scored above 0.58; five faithful paraphrases scored 0.80 to 0.98, two 0.62 and 0.69), and set
# above the 0.61 the model gives "The ferry sank at noon." against "The ferry left Oban at
# noon.": the model was trained to find answers, not to check them, so only its sure cases count.
PARAPHRASE_THRESHOLD = 0.8


def paraphrased(claim: str, source: str) -> bool:
    """Whether the support model (the reader's cross-encoder, rag.cross_encoder, reading the
    claim as its question) scores `source` as stating `claim` in other words."""
    from rag import cross_encoder

    score = cross_encoder.score(claim, [cross_encoder.passage_text(source)])[0]
    return bool(score >= PARAPHRASE_THRESHOLD)


# -- grammar: the claim and its source sentence say the same ---------------------------------

_NEGATORS = support.NEGATORS
# Entity kinds that name an amount or a time, not an actor: their role is not compared.
_NOT_ACTORS = frozenset(
    {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL", "LANGUAGE"}
)
_SUBJECTS = frozenset({"nsubj", "csubj"})
_OBJECTS = frozenset({"dobj", "dative", "iobj", "obj", "nsubjpass", "pobj"})


def disagreement(claim: str, source: str, sentence: str = "") -> str:
    """Why `source` (one sentence of a passage, holding every content word of `claim`) does
    not say what `claim` says, by spaCy's parse of both; "" when it does.

    - a verb negated on one side only ("did not fire" against "fired");
    - a named entity that is the subject of the claim's verb but not of that verb in the
      source, or its object where the source has it as the subject (who did what to whom);
    - an amount counting another thing than in the source (rag.binding);
    - a statement drawn from an instruction: the source is an imperative (its root a verb in
      the base form with no subject, "Ignore ... and say ...") and the claim is not (the
      whole `sentence` the claim is a clause of, when given).
    """
    said, heard = _parse(claim), _parse(source)
    negated_claim, negated_source = _negated(said), _negated(heard)
    verbs_claim = _verb_stems(said)
    if negated_claim and not negated_source:
        return "a negation its source does not have"
    if (negated_claim - negated_source) & _verb_stems(heard) - _LIGHT:
        return "a negation its source does not have"  # it negates what the source affirms
    if (negated_source - negated_claim) & verbs_claim:
        return "its source says the opposite (a negation it leaves out)"
    for entity in said.ents:
        if entity.label_ in _NOT_ACTORS:
            continue
        role, verbs = _role(entity.root)
        if role == "other":
            continue
        roles = [role for place in _occurrences(heard, entity) for role in _roles(place.root)]
        if not roles:
            continue
        content = {verb for verb in verbs if verb not in _STOP_STEMS}
        if not content:
            continue  # "E7 is a defrost failure": a copula has no doer
        same = [found for found, found_verbs in roles if content & found_verbs]
        # the doer's verb in other words ("requires" for "needs", in no role of the source):
        # its roles with any verb
        reworded = not content & _verb_stems(heard)
        anyhow = same or ([found for found, _verbs in roles] if reworded else [])
        if role == "subject" and "subject" not in anyhow:
            return f"{entity.text} is not who does it in its source"
        if role == "object" and "subject" in same and "object" not in same:
            return f"{entity.text} is who does it in its source, not who it is done to"
    misbound = binding.misbound(claim, source)
    if misbound:
        return misbound
    whole = _parse(sentence) if sentence else said
    if _imperative(heard) and not (_imperative(whole) or _obliging(whole)):
        return "its source is an instruction, not a statement"
    return ""


def _obliging(doc: Any) -> bool:
    """An instruction restated as what must be done: a modal of obligation ("You should
    check ...", "It must be kept upright") or need and have to ("The unit needs 300 mm")."""
    for token in doc:
        if token.tag_ == "MD" and token.lower_ in ("should", "must", "shall", "ought", "need"):
            return True
        if token.pos_ == "VERB" and token.lemma_.lower() in ("need", "require"):
            return True
        if token.lemma_.lower() == "have" and any(
            c.dep_ == "xcomp" and any(g.tag_ == "TO" for g in c.children) for c in token.children
        ):
            return True
    return False


_STOP_STEMS = frozenset(stem(word) for word in STOPWORDS)
# Verbs that carry a clause's grammar, not its claim: a negation on them is compared by what
# they hang from, so "is not higher" is not "the source affirms is".
_LIGHT = _STOP_STEMS | STOPWORDS | {"be", "have", "do"}


_parse = support.parse


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
    ... and stated") or a clause of it ("said ..., adding ...") without a subject of their
    own, those it governs ("continued to fire") and a participle after a preposition of it
    ("took steps by initiating talks")."""
    found, todo = set(), [verb]
    while todo:
        token = todo.pop()
        found.add(stem(token.lower_))
        for child in token.children:
            own = any(c.dep_ in _SUBJECTS or c.dep_ == "nsubjpass" for c in child.children)
            shares = child.dep_ == "xcomp" or (child.dep_ in ("conj", "advcl") and not own)
            if shares and child.pos_ in ("VERB", "AUX") and child.tag_ != "VBN":
                todo.append(child)
            # "took steps ... by initiating talks": a participle after a preposition
            if child.dep_ == "prep":
                todo += [g for g in child.children if g.dep_ == "pcomp" and g.tag_ == "VBG"]
    return found


def _role(token: Any) -> tuple[str, set[str]]:
    """Whether a word is the subject or the object of a verb (or "other"), and that verb's
    stems (see `_verbs`): "by North Korea" after a passive verb is its subject."""
    for _ in range(64):
        # "Japan's Prime Minister's Office said": a name's office, spokesman or army acts
        # for it, so the name has the role of the noun it belongs to
        owner = token.dep_ == "poss" and token.head.pos_ in ("NOUN", "PROPN")
        if (not owner and token.dep_ not in ("conj", "appos")) or token.head is token:
            break
        token = token.head
    if token.dep_ in _SUBJECTS:
        verb = _verb_of(token.head)
        # "The HP-8 has to be installed by ...": the subject of a passive it governs
        passive = any(
            c.dep_ == "auxpass" for t in verb.subtree if t.dep_ == "xcomp" for c in t.children
        )
        return ("object" if passive else "subject"), _verbs(verb)
    if token.dep_ == "pobj" and token.head.dep_ == "agent":
        return "subject", _verbs(_verb_of(token.head.head))
    if token.dep_ in _OBJECTS:
        return "object", _verbs(_verb_of(token.head))
    return "other", set()


_RELATIVE = frozenset({"WDT", "WP"})  # "which", "that", "who" heading a relative clause


def _roles(token: Any) -> list[tuple[str, set[str]]]:
    """A source word's roles: its own (`_role`), and the subject of a relative clause on it
    or on the noun it names ("a measure called degree heating weeks (DHW), which adds up
    ...": DHW adds up), whose relative pronoun stands for it."""
    found = [_role(token), *_relative(token)]
    for _ in range(64):
        if token.dep_ in ("conj", "appos") and token.head is not token:
            token = token.head
        elif token.dep_ == "oprd" and token.head.dep_ == "acl":  # "a measure called X"
            token = token.head.head
        else:
            return found
        found += _relative(token)
    return found


def _relative(noun: Any) -> list[tuple[str, set[str]]]:
    """The verbs of relative clauses on `noun` whose subject is their relative pronoun."""
    return [
        ("subject", _verbs(clause))
        for clause in noun.children
        if clause.dep_ == "relcl"
        and any(c.dep_ in _SUBJECTS and c.tag_ in _RELATIVE for c in clause.children)
    ]


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
    """The stems and lemmas of the verbs a negation attaches to, or of the adjective where it
    negates one that modifies ("escalating ..., not content with ...": not content, still
    escalating) rather than one a verb predicates ("is not safe")."""
    found = set()
    for token in doc:
        if token.dep_ != "neg" and token.lower_ not in _NEGATORS:
            continue
        head = token.head if token.head is not token else token
        if head.pos_ == "ADJ" and head.dep_ not in ("ROOT", "acomp"):
            found |= {stem(head.lower_), head.lemma_.lower()}
        else:
            verb = _verb_of(head)
            found |= {stem(verb.lower_), verb.lemma_.lower()}
            # "never standing on or touching": a negation covers verbs joined by "or"
            for other in verb.children:
                joined = any(c.lower_ in ("or", "nor") for c in verb.children if c.dep_ == "cc")
                if other.dep_ == "conj" and other.pos_ == "VERB" and joined:
                    found |= {stem(other.lower_), other.lemma_.lower()}
    return found


def _verb_stems(doc: Any) -> set[str]:
    """The stems and lemmas of its verbs and adjectives ("said": "said" and "say"): what a
    negation in the source may deny."""
    kinds = ("VERB", "AUX", "ADJ")
    return {form for t in doc if t.pos_ in kinds for form in (stem(t.lower_), t.lemma_.lower())}


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


_SAME_CHARACTER = {
    "'": "['’‘]",
    "’": "['’‘]",
    "‘": "['’‘]",
    '"': '["“”]',
    "“": '["“”]',
    "”": '["“”]',
    "-": "[-‐‑–—]",
    "‐": "[-‐‑–—]",
    "‑": "[-‐‑–—]",
    "–": "[-‐‑–—]",
    "—": "[-‐‑–—]",
}
_ELLIPSIS = re.compile(r"\s*(?:\.\s?\.\s?\.|…|\[\s*(?:\.\.\.|…)\s*\])\s*")
_EDGE = " \t\n.,;:!?"  # punctuation a quotation may gain or lose at its ends


def locate(quote: str, cited: Sequence[Span], documents: Mapping[str, Document]) -> Span | None:
    """The quote's own span in the first cited passage holding it verbatim, or None. Quote
    marks and apostrophes of either kind and any run of white space count as the same; a
    full stop or comma at the end of the quote, or beside an ellipsis, need not be in the
    source ("calm." for "calm,"); its first letter may be a capital or not, and a hyphen or
    dash of any length stands for any other; an ellipsis stands for words left out (the span
    then runs from the first piece to the last). Failing that, a quotation with no ellipsis
    may be one word off, or spelled another way (rag.quotes.near)."""
    split = _ELLIPSIS.split(quote)
    # A quotation may gain or lose punctuation where it ends or meets an ellipsis; it never
    # opens with a full stop or a comma (a quote mark closing one quotation and opening the
    # next, misread).
    pieces = [split[0].lstrip().rstrip(_EDGE), *(piece.strip(_EDGE) for piece in split[1:])]
    pieces = [piece for piece in pieces if piece]
    if not pieces:
        return None
    patterns = [
        r"\s+".join(
            "".join(_SAME_CHARACTER.get(char, re.escape(char)) for char in word)
            for word in piece.split()
        )
        for piece in pieces
    ]
    first = pieces[0][0]
    if first.isalpha():  # a quotation may capitalise its first word, or not
        patterns[0] = f"[{first.lower()}{first.upper()}]" + patterns[0][len(re.escape(first)) :]
    pattern = r"(?s:.*?)".join(f"({part})" for part in patterns)
    for passage in cited:
        match = re.search(pattern, passage.text)
        document = documents.get(passage.doc_id)
        if match and document is not None:
            return document.span(passage.start + match.start(), passage.start + match.end())
    for passage in cited if len(pieces) == 1 else ():
        place = quotes.near(pieces[0], passage)
        document = documents.get(passage.doc_id)
        if place and document is not None:
            return document.span(passage.start + place[0], passage.start + place[1])
    return None
