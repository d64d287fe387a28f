"""rag.quantities: amounts in English text as values with units. Pure, no model."""

from __future__ import annotations

import pytest

from rag.quantities import same, values


def value(text: str):
    found = values(text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("six", "6"),
        ("six years", "6"),
        ("£1,185", "1,185 pounds"),
        ("8am", "08:00"),
        ("6pm", "18:00"),
        ("7.00 pm", "19:00"),
        ("15 cm", "0.15 m"),
        ("2 kg", "2,000 grams"),
        ("twenty-five", "25"),
        ("two hundred and five", "205"),
        ("90 minutes", "1.5 hours"),
        ("61%", "61 per cent"),
    ],
)
def test_the_same_value_written_two_ways(one: str, other: str) -> None:
    assert same(value(one), value(other)) and same(value(other), value(one))


@pytest.mark.parametrize(
    ("one", "other"),
    [("six", "7"), ("15 cm", "15 m"), ("8am", "8pm"), ("£5", "5 kg"), ("1,185", "1,158")],
)
def test_different_values_differ(one: str, other: str) -> None:
    assert not same(value(one), value(other))


def test_ranges_share_their_unit_and_names_hold_no_value() -> None:
    assert [v.number for v in values("two to five minutes")] == [120.0, 300.0]
    assert [v.number for v in values("between three and twelve months")] == [3.0, 12.0]
    assert values("the HP-8 and error E5") == []
    assert values("") == []


@pytest.mark.parametrize("text", ["For one shift, one day's notice", "Costs: (£5) and; 7 kg"])
def test_an_amount_after_punctuation_starts_at_its_first_character(text: str) -> None:
    # the space before an amount is not part of it: the claim's words around it find it
    for found in values(text):
        assert not text[found.start].isspace() and not text[found.end - 1].isspace()


@pytest.mark.parametrize(
    ("one", "other", "equal"),
    [
        ("30 April 2025", "April 30th, 2025", True),
        ("30 April", "30 April 2025", True),
        ("1st of May", "1 May", True),
        ("30 May 2025", "30 April 2025", False),
        ("30 April 2024", "30 April 2025", False),
        ("2025", "30 April 2025", True),  # a bare number with a date: its year or day
        ("31", "30 April 2025", False),
    ],
)
def test_dates_compare_by_day_month_and_year(one: str, other: str, equal: bool) -> None:
    assert same(value(one), value(other)) is equal


def test_a_date_is_one_value_and_may_the_verb_is_no_month() -> None:
    assert [v.dimension for v in values("held by 30 April 2025")] == ["date"]
    assert [v.dimension for v in values("you may 5 times")] == [""]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("$6.1 million", "6,100,000 dollars"),
        ("five cents", "$0.05"),
        ("21 cents", "$0.21"),
        ("£2.5 billion", "2,500,000,000 pounds"),
    ],
)
def test_scales_and_cents(one: str, other: str) -> None:
    assert same(value(one), value(other))


def test_a_range_shares_its_sign_and_scale() -> None:
    assert [(v.number, v.dimension) for v in values("$188-194 million")] == [
        (188e6, "USD"),
        (194e6, "USD"),
    ]
