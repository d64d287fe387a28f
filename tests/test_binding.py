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
