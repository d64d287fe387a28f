"""Judging one generated sentence against the passages it cites (`verify`): kept only when
every passage it cites exists, every quotation in it is found in a passage it cites
(rag.quotes), every content word of it is found in ONE sentence of a passage it cites (or two
neighbouring ones, the second pointing back to the first), that sentence says the same thing
by grammar (rag.grammar: no negation on one side only, named entities in the same roles, each
amount counting the same thing, no statement drawn from an instruction: passage text is data,
never instructions), and, given the question, it is said of the thing the question asks about
(rag.scope). Otherwise it is dropped, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache

from rag import quotes, scope, support
from rag.chunking import split_sentences
from rag.citations import cite
from rag.framing import FALLING, RISING, SAYING
from rag.grammar import disagreement, listed, mixed
from rag.lexicon import stem
from rag.negation import leaves_out_negation
from rag.quantities import same, values
from rag.question import SUBJECT_DEPS
from rag.quotes import locate
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
    # a quotation's words stay in the claim: they are claimed too
    claims = support.claims(_unauthored(plain, cited, documents))
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
    """The sentences of the cited passages, in the order cited; not a list item's number
    alone ("3."), which states nothing and stands between the items it numbers."""
    found = []
    for passage in cited:
        document = documents.get(passage.doc_id)
        if document is None:
            continue
        for start, end in split_sentences(passage.text):
            span = document.span(passage.start + start, passage.start + end)
            if span not in found and re.search(r"[^\W\d_]", span.text):
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
    beside = support.appositions(claim.text)  # names set beside a noun ("the Secretary, X,")
    for at, source in enumerate(sources):
        held = support.facts(source.text)
        before = sources[at - 1] if at and sources[at - 1].doc_id == source.doc_id else None
        context = support.facts(before.text) if before and before.end <= source.start else None
        titles = _titles(documents.get(source.doc_id))
        anchors = support.missing_anchors(claim, held, titles, context)
        words = support.missing_words(claim.words, held, context, titles)
        for name in _identified(beside, anchors, held, sources):
            anchors = [anchor for anchor in anchors if anchor != name]
            words = [word for word in words if word.lower() not in name.split()]
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
    everything = " ".join(source.text for source in sources).lower()
    why = ""
    # a sentence with every word of the claim, its verb too, and another amount of the same
    # kind states it with that amount ("top up ... to 1.2 bar"): no sentence holding fewer
    # of its words ("fill ... to between 1.0 and 1.5 bar") makes the claim's amount true
    contradicted = [
        source
        for _lost, _anchors, _at, source, _names, words in ranked
        if not words
        and claim.verb in support.facts(source.text).lemmas
        and support.other_amount(claim, support.facts(source.text))
    ]
    for _lost, lost_anchors, _at, source, anchors, words in ranked:
        if lost_anchors:
            shown = listed([*anchors, *words])
            why = why or f"not in one sentence of the passages it cites: {shown}"
            break
        flipped = support.reversed_bound(claim.words, support.facts(source.text))
        if flipped:
            why = why or f"its source bounds the amount the other way: {flipped.lower()}"
            continue
        flipped = support.opposite(words, support.facts(source.text))
        if flipped:
            why = why or f"its source says the opposite: {flipped}"
            continue
        lacks_verb = claim.verb not in support.facts(source.text).lemmas
        if contradicted and (words or lacks_verb):
            shown = support.other_amount(claim, support.facts(contradicted[0].text))
            why = why or f"its source gives another amount: {shown}"
            continue
        # in other words: only when most of its words are there and the model reads it so
        if words and (
            claim.literal
            or support.unparaphrasable(words)
            or support.added_to_list(claim, words, support.facts(source.text), everything)
            or 2 * len(words) > len(claim.words)
            or _unnamed(claim, words, documents.get(source.doc_id))
            or not paraphrased(claim.text, source.text, _readable_whole(sentence, claim, words))
        ):
            why = why or f"words not in the passages it cites: {listed(words)}"
            continue
        # the source sentence itself, word for word, says what it says: its grammar is not
        # compared clause by clause (a clause cut out of it can parse another way)
        copied = _words_of(sentence) == _words_of(source.text)
        disagrees = "" if copied else disagreement(claim.text, source.text, sentence)
        if not disagrees and words and leaves_out_negation(claim.text, source.text, sentence):
            # in other words, and its source negates something it does not: the support
            # model reads "should be higher than 45" as "should not exceed 45"
            disagrees = "its source says the opposite (a negation it leaves out)"
        if not disagrees and _at >= len(sources):  # two sentences joined (`_joined`)
            first, second = sources[_at - len(sources) - 1], sources[_at - len(sources)]
            disagrees = mixed(claim.text, first.text, second.text) or _other_amount_alone(
                claim, first, second
            )
        if disagrees:
            why = why or disagrees
            continue
        question, anchored, cited = asked
        where = scope.Where(source, documents.get(source.doc_id), _passage_of(source, cited))
        other = scope.unscoped(sentence, question, where, anchored)
        if other:
            why = why or f"said of something else than the question asks: {listed(other)}"
            continue
        return source, ""
    return None, why


def _words_of(text: str) -> list[str]:
    """A text's words, lower case, as quotations are compared (rag.quotes.words)."""
    return [word for word, _start, _end in quotes.words(text)]


def _other_amount_alone(claim: support.Claim, first: Span, second: Span) -> str:
    """Why a claim joined from two sentences takes its amount from the wrong one: one of them
    alone holds every word of the claim with another amount of the same kind ("Our original
    move budget was £48,500, so ...") and the claim's amount is the other's ("This is still
    inside the £55,000 limit"); "" when neither does."""
    for one in (first, second):
        held = support.facts(one.text)
        if support.missing_words(claim.words, held):
            continue
        for value in claim.amounts:
            if any(same(value, stated) for stated in held.amounts):
                continue
            # of the same kind; a bare number ("in five") stands for any amount
            others = [
                stated
                for stated in held.amounts
                if not value.dimension or stated.dimension == value.dimension
            ]
            if others:
                shown = one.text[others[0].start : others[0].end]
                return f"its source gives another amount: {shown}"
    return ""


def _identified(
    beside: Sequence[tuple[str, tuple[str, ...]]],
    anchors: Sequence[str],
    held: support.Facts,
    sources: Sequence[Span],
) -> list[str]:
    """The names a claim only sets beside a noun its source sentence has (`beside`,
    rag.support.appositions: "the Honorary Secretary, Rupert Anand,"), where another
    sentence it cites pairs that name with that noun ("Honorary Secretary: Rupert Anand"):
    who the noun is, stated there."""
    found = []
    for name, words in beside:
        if name not in anchors or not all(word in held.lemmas for word in words):
            continue
        for other in sources:
            facts = support.facts(other.text)
            if support.within(name, facts.lowered) and all(w in facts.lemmas for w in words):
                found.append(name)
                break
    return found


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


def _number_word(word: str) -> str:
    """A number word as digits ("six" -> "6"), else the word."""
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
    does, X; and so with a word its title names it by, reporting ("The guide says to ..."
    of a "Quick-Start and Care Guide")."""
    for doc_id in dict.fromkeys(passage.doc_id for passage in cited):
        document = documents.get(doc_id)
        for name in scope.authors(document) if document is not None else ():
            text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "the document", text)
        if document is None:
            continue
        title = set(re.findall(r"[a-z]+", _titles_of(document.text, ()).lower()))
        for start, end in reversed(_reporting_nouns(text)):
            if text[start:end].lower() in title:
                text = text[:start] + "document" + text[end:]
    return text


def _reporting_nouns(text: str) -> list[tuple[int, int]]:
    """Where a noun with "the" reports what it holds: the subject of a reporting verb
    (rag.framing.SAYING, by lemma: "stresses" too) that goes on with a clause ("The guide
    says to ...", "the report stresses that ...", "the guide tells you to ..."); "The
    chapter explains the types of leave" reports no clause."""
    doc = support.parse(text)
    found = []
    for verb in doc:
        clause = any(child.dep_ in ("ccomp", "xcomp") for child in verb.children)
        if verb.lemma_.lower() not in SAYING or not clause:
            continue
        for noun in verb.children:
            definite = any(word.lower_ == "the" for word in noun.lefts)
            if noun.dep_ == "nsubj" and noun.pos_ in ("NOUN", "PROPN") and definite:
                found.append((noun.idx, noun.idx + len(noun.text)))
    return sorted(found)


MAX_TITLE_LINES = 3


@lru_cache(maxsize=256)
def _titles_of(text: str, headings: tuple[tuple[int, int], ...]) -> str:
    # its title block: the first lines, each short and not a sentence ("# Tenant Insight
    # Analyst", "**Brindlecombe Housing Trust** · Customer Experience Directorate"), up to
    # the first that is text
    block = []
    for line in [line for line in text.lstrip().splitlines() if line.strip()][:MAX_TITLE_LINES]:
        if len(line) > 100 or line.rstrip(" *_").endswith((".", "!", "?")):
            break
        block.append(line)
    parts = [*block, *(text[start:end] for start, end in headings)]
    return " ".join(" ".join(parts).lower().split())


def _titles(document: Document | None) -> str:
    """A document's title block (its first short lines that are not sentences) and headings,
    lower case: what its passages are about and who speaks in them, so a name from there
    need not be repeated in each sentence ("the Trust" of a job advert that says "we")."""
    return "" if document is None else _titles_of(document.text, document.headings)


# The support model's probability at or above which a source sentence states a claim in other
# words. Chosen on the choose half of data/verifier/replies.jsonl (no unfaithful claim there
# scored above 0.58; five faithful paraphrases scored 0.80 to 0.98, two 0.62 and 0.69), and set
# above the 0.61 the model gives "The ferry sank at noon." against "The ferry left Oban at
# noon.": the model was trained to find answers, not to check them, so only its sure cases count.
PARAPHRASE_THRESHOLD = 0.8


def paraphrased(claim: str, source: str, sentence: str = "") -> bool:
    """Whether the support model (the reader's cross-encoder, rag.cross_encoder, reading the
    claim as its question) scores `source` as stating `claim` in other words; given the
    `sentence` to read the claim in too (`_readable_whole`), the better of the two scores
    counts."""
    from rag import cross_encoder

    passage = [cross_encoder.passage_text(source)]
    score = cross_encoder.score(claim, passage)[0]
    if score < PARAPHRASE_THRESHOLD and sentence:
        score = max(score, cross_encoder.score(sentence, passage)[0])
    return bool(score >= PARAPHRASE_THRESHOLD)


def _readable_whole(sentence: str, claim: support.Claim, missing: Sequence[str]) -> str:
    """The sentence for the support model to read a claim's clause in as well (`paraphrased`),
    or "" where the clause is read alone.

    The clause was cut out of its sentence by the parser, and a small parser can cut a
    fragment the model cannot read ("Pass `latest` ." of "To restore the most recent
    snapshot, pass `latest` as the snapshot ID"). Read alone: a verb cut from its subject
    ("... and fired the engineers"), which in its whole sentence the model takes for any
    verb of the source's; and a clause with a word not found that says which way something
    moved ("The benefit shrank over time: ..." passes for its source's "grew")."""
    moved = RISING | FALLING
    turned = any(word.text in missing and word.lemma in moved for word in claim.words)
    return "" if turned or _without_subject(claim.text) else sentence


def _without_subject(clause: str) -> bool:
    """Whether a clause is a verb whose subject was left in another clause: no subject of its
    own, and not a command ("Pass `latest`")."""
    doc = support.parse(clause)
    root = next((token for token in doc if token.dep_ == "ROOT"), None)
    subject = any(token.dep_ in SUBJECT_DEPS for token in doc)
    return root is not None and root.pos_ in ("VERB", "AUX") and root.tag_ != "VB" and not subject


def load_grammar() -> None:
    """Load the parser now (a second or two), so the model's time budget is not spent on it."""
    support.parse("It is ready.")


def unsupported(verdicts: Iterable[Verdict]) -> int:
    """How many sentences were dropped as unsupported (a refusal is not counted: it is an
    answer, just not one to show)."""
    return sum(not verdict.kept and verdict.reason != REFUSED for verdict in verdicts)


def _dropped(sentence: str, reason: str) -> Verdict:
    return Verdict(sentence, False, (), reason)
