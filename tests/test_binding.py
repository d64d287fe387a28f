"""rag.binding: an amount tied to what another amount of its source counts. spaCy's small
pipeline, no language model."""

from __future__ import annotations

import pytest

from rag import binding, support
from rag.quantities import values

CHARGERS = "She proposed four dual-socket chargers, which would serve eight parking bays."
CRIMES = "23 crimes had been recorded in the parish in February, down from 31 in January."
HOLIDAYS = "This is in addition to the eight public holidays in England, or the nine in Scotland."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CHARGERS, ["charger", "bay"]),
        (CRIMES, ["crime", ""]),  # "31 in January" counts nothing of its own
        ("The unit weighs 98 kg.", ["kg"]),
    ],
)
def test_what_an_amount_counts(text: str, expected: list[str]) -> None:
    doc = support.parse(text)
    assert [binding.counted(doc, value) for value in values(text)] == expected


@pytest.mark.parametrize(
    ("claim", "source", "reason"),
    [
        ("She proposed four chargers, which would serve four parking bays.", CHARGERS, "four"),
        ("31 crimes had been recorded in the parish in February.", CRIMES, "31"),
        ("She proposed four dual-socket chargers.", CHARGERS, ""),
        ("The chargers would serve eight parking bays.", CHARGERS, ""),
        ("23 crimes were recorded in February, down from 31 in January.", CRIMES, ""),
        ("Staff in Scotland get nine public holidays.", HOLIDAYS, ""),
        ("The unit weighs 98 kg.", "The outdoor unit weighs 98 kg without packaging.", ""),
    ],
)
def test_an_amount_counting_another_thing_is_misbound(claim: str, source: str, reason: str) -> None:
    found = binding.misbound(claim, source)
    assert (reason in found) if reason else found == ""
    assert bool(found) is bool(reason)


PLACES = (
    "This is in addition to the eight public holidays observed in England, or the nine "
    "observed in Scotland for staff based in Dundee."
)


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        ("Staff based in Dundee get eight public holidays.", "dundee"),
        ("Staff in England get nine public holidays.", "england"),
        ("Staff based in Dundee get nine public holidays.", ""),
        ("Staff in England get eight public holidays.", ""),
        # both amounts claimed, each with its own place
        ("Staff get eight public holidays in England, or nine in Scotland.", ""),
    ],
)
def test_a_name_the_source_gives_another_amount_is_misplaced(claim: str, reason: str) -> None:
    names = [e.text.lower() for e in support.parse(claim).ents if e.label_ == "GPE"]
    found = binding.misplaced(claim, PLACES, names)
    assert (reason in found) if reason else found == ""


@pytest.mark.parametrize(
    ("claim", "source", "reason"),
    [
        (
            "Employees receive 21 weeks of maternity leave at full pay.",
            "They receive 18 weeks of maternity leave at full pay, followed by 21 weeks at "
            "Statutory Maternity Pay.",
            "maternity",
        ),
        (
            "Employees receive 18 weeks of maternity leave at full pay.",
            "They receive 18 weeks of maternity leave at full pay, followed by 21 weeks at "
            "Statutory Maternity Pay.",
            "",
        ),
        (
            "£50,000 will be taken from the general reserve.",
            "The cost will be met from £50,000 of Section 106 developer contributions, with the "
            "remaining £36,400 taken from the general reserve.",
            "general reserve",
        ),
        (
            "The remaining £36,400 will come from the general reserve.",
            "The cost will be met from £50,000 of Section 106 developer contributions, with the "
            "remaining £36,400 taken from the general reserve.",
            "",
        ),
    ],
)
def test_words_the_source_gives_another_amount_are_misplaced(
    claim: str, source: str, reason: str
) -> None:
    ents = support.parse(claim).ents
    names = [e.text.lower().removeprefix("the ") for e in ents if e.label_ in ("ORG", "GPE")]
    found = binding.misplaced(claim, source, names)
    assert (reason in found) if reason else found == ""


@pytest.mark.parametrize(
    ("claim", "source", "reason"),
    [
        # against the source: the same amount moved the other way, in any word of change
        (
            "Gross margin fell to 41.2%.",
            "Gross margin rose to 41.2%, helped by lower component costs.",
            "its source says the opposite: fell / rose",
        ),
        (
            "Crimes went up from 31 in January.",
            "23 crimes were recorded in February, down from 31 in January.",
            "its source says the opposite: up / down",
        ),
        # the claim's own amounts: where it went against where it came from
        (
            "Operating margin rose to 7.4% from 8.1%.",
            "Operating margin was 7.4%, against 8.1% a year ago.",
            "rose from 8.1% to 7.4% goes the other way",
        ),
        (
            "Membership fell from 204 to 231 members.",
            "The club had 231 members, against 204 a year before.",
            "fell from 204 to 231 goes the other way",
        ),
        (
            "The company employed 412 people, down from 386 in June.",
            "The company employed 412 people, against 386 in June.",
            "down from 386 to 412 goes the other way",
        ),
        # the same way, or no word of change: nothing to say
        (
            "Revenue grew 11% to $48.6 million, up from $43.8 million.",
            "Revenue rose 11% to $48.6 million, compared with $43.8 million.",
            "",
        ),
        ("Operating margin fell from 8.1% to 7.4%.", "Operating margin fell to 7.4%.", ""),
        # "improved" says the move was good, not which way: a wait time improves as it falls
        ("Wait times improved to 5 minutes from 8.", "Wait times fell to 5 minutes from 8.", ""),
        # "up to" bounds an amount; it moves nothing
        ("Refunds of up to £30 are paid.", "Refunds fell to £30.", ""),
    ],
)
def test_an_amount_moved_the_other_way_is_turned(claim: str, source: str, reason: str) -> None:
    assert binding.turned(claim, source) == reason
