"""Numbers, amounts, times and measures in English text, as values with units, so that a claim
and its source compare by what they mean rather than how they are written: "six" = 6,
"£1,185" = "1,185 pounds", "8am to 6pm" = "08:00 to 18:00", "15 cm" = "0.15 m".

Pure text work (regular expressions and closed tables of English number words and common
units), no model. A number that is part of a name ("HP-8", "E5") is not a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# English number words (a closed class).
_UNITS_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS_WORDS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORD_VALUES = {word: float(at) for at, word in enumerate(_UNITS_WORDS)} | {
    word: float(20 + 10 * at) for at, word in enumerate(_TENS_WORDS)
}
WORD_VALUES |= {"a dozen": 12.0, "dozen": 12.0, "a hundred": 100.0, "a thousand": 1000.0}
_SCALES = {"hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9}

# Units: a written form -> (dimension, factor to that dimension's base unit).
_UNIT_TABLE: dict[str, tuple[str, float]] = {}


def _units(dimension: str, factor: float, *names: str) -> None:
    for name in names:
        _UNIT_TABLE[name] = (dimension, factor)


_units("length", 1e-3, "mm", "millimetre", "millimetres", "millimeter", "millimeters")
_units("length", 1e-2, "cm", "centimetre", "centimetres", "centimeter", "centimeters")
_units("length", 1.0, "m", "metre", "metres", "meter", "meters")
_units("length", 1e3, "km", "kilometre", "kilometres", "kilometer", "kilometers")
_units("length", 0.0254, "inch", "inches")
_units("length", 0.3048, "ft", "foot", "feet")
_units("length", 1609.344, "mile", "miles")
_units("mass", 1e-3, "g", "gram", "grams")
_units("mass", 1.0, "kg", "kilo", "kilos", "kilogram", "kilograms")
_units("mass", 1e3, "tonne", "tonnes", "ton", "tons")
_units("mass", 0.45359237, "lb", "lbs")
_units("volume", 1e-3, "ml", "millilitre", "millilitres", "milliliter", "milliliters")
_units("volume", 1.0, "l", "litre", "litres", "liter", "liters")
_units("duration", 1.0, "s", "sec", "secs", "second", "seconds")
_units("duration", 60.0, "min", "mins", "minute", "minutes")
_units("duration", 3600.0, "h", "hr", "hrs", "hour", "hours")
_units("duration", 86400.0, "day", "days")
_units("duration", 7 * 86400.0, "week", "weeks")
_units("months", 1.0, "month", "months")
_units("months", 12.0, "year", "years")
_units("power", 1.0, "w", "watt", "watts")
_units("power", 1e3, "kw", "kilowatt", "kilowatts")
_units("energy", 1.0, "kwh")
_units("pressure", 1.0, "bar")
_units("voltage", 1.0, "v", "volt", "volts")
_units("current", 1.0, "a", "amp", "amps", "ampere", "amperes")
_units("temperature", 1.0, "°c", "degrees celsius", "celsius")
_units("angle", 1.0, "degree", "degrees", "°")
_units("percent", 1.0, "%", "per cent", "percent")
_units("GBP", 1.0, "£", "pound", "pounds", "gbp")
_units("GBP", 0.01, "p", "pence", "penny")
_units("USD", 1.0, "$", "dollar", "dollars", "usd")
_units("USD", 0.01, "cent", "cents", "¢")
_units("EUR", 1.0, "€", "euro", "euros", "eur")

_CURRENCY_SIGNS = "£$€"
_NUMBER_WORD = "|".join(sorted([*WORD_VALUES, *_SCALES], key=len, reverse=True))
# A number: digits (with thousands commas, a decimal part) or English number words joined by
# spaces, hyphens and "and" ("two hundred and five", "twenty-five").
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_WORDS = (
    rf"(?:{_NUMBER_WORD})"
    rf"(?:(?:[\s-]+|(?<=hundred)\s+and\s+|(?<=thousand)\s+and\s+)(?:{_NUMBER_WORD}))*"
)
_UNIT_WORD = "|".join(re.escape(u) for u in sorted(_UNIT_TABLE, key=len, reverse=True))
# subtle: a number glued to letters or to a word by a hyphen ("HP-8", "E5", "COVID-19") names
# a thing; it is not a value.
_NUMBER = re.compile(
    rf"(?<![\w.])(?<![A-Za-z]-)(?:(?P<sign>[{_CURRENCY_SIGNS}])\s?)?"
    rf"(?P<number>{_DIGITS}|\b(?:{_WORDS})\b)"
    rf"(?:\s(?P<scale>thousand|million|billion)\b)?"
    rf"(?:(?P<suffix>st|nd|rd|th)\b)?"
    rf"(?:\s?(?P<unit>{_UNIT_WORD})(?![\w]))?"
    rf"(?![\w-]*[A-Za-z]\d)",
    re.IGNORECASE,
)
# A time of day: "8am", "6 p.m.", "7.00 pm", "08:00", "18:30"; noon and midnight.
_TIME = re.compile(
    r"(?<![\w.:])(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s?(?P<half>a\.?m\.?|p\.?m\.?)(?!\w)"
    r"|(?<![\w.:])(?P<hour24>\d{1,2}):(?P<minute24>\d{2})(?![\d:])"
    r"|\b(?P<named>noon|midday|midnight)\b",
    re.IGNORECASE,
)
# A date with its day and month, and its year where written: "30 April 2025", "1st of May",
# "April 30, 2025". A month with no day ("March 2025") is no date value: its year is a number.
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_NUMBERS = (
    {name: at + 1 for at, name in enumerate(MONTHS)}
    | {name[:3]: at + 1 for at, name in enumerate(MONTHS)}
    | {"sept": 9}
)
_MONTH = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
_DATE = re.compile(
    rf"(?<![\w.])(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{_MONTH})\.?"
    rf"(?:,?\s+(?P<year>\d{{4}}))?(?![\w])"
    rf"|(?<![\w.])(?P<month2>{_MONTH})\.?\s+(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?"
    rf"(?:,?\s+(?P<year2>\d{{4}}))?(?![\w])",
    re.IGNORECASE,
)
DATE = "date"  # a date's dimension: its number is year * 10,000 + month * 100 + day
# Words between two numbers of a range: the second's unit is the first's too.
_RANGE = re.compile(r"^\s*(?:to|and|or|-|–|—)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Value:
    """One amount in a text: its number in the unit's base (`dimension`; "" for a bare
    number), and where it was written."""

    number: float
    dimension: str
    written: float  # the number as written, before conversion ("15" of "15 cm")
    start: int
    end: int


def values(text: str) -> list[Value]:
    """Every amount in `text`, in order, as base-unit values:
    values("15 cm and £1,185") -> [Value(0.15, "length", 15.0, ...), Value(1185.0, "GBP", ...)]."""
    found: list[Value] = []
    taken: list[tuple[int, int]] = []
    for match in _TIME.finditer(text):
        minutes = _minutes(match)
        found.append(Value(minutes, "time of day", minutes, match.start(), match.end()))
        taken.append((match.start(), match.end()))
    for match in _DATE.finditer(text):
        if any(s < match.end() and match.start() < e for s, e in taken):
            continue
        written = match.group("month") or match.group("month2")
        if not written[0].isupper():
            continue  # English writes months capitalised: "you may 5 times" holds no date
        day = int(match.group("day") or match.group("day2"))
        month = _MONTH_NUMBERS[written.lower()]
        year = int(match.group("year") or match.group("year2") or 0)
        if 1 <= day <= 31:
            number = year * 10_000 + month * 100 + day
            found.append(Value(float(number), DATE, float(day), match.start(), match.end()))
            taken.append((match.start(), match.end()))
    raw = []
    for match in _NUMBER.finditer(text):
        if any(s < match.end() and match.start() < e for s, e in taken):
            continue
        number = _number(match.group("number"))
        if number is None:
            continue
        # "$6.1 million": the scale word multiplies the digits
        scale = _SCALES[match.group("scale").lower()] if match.group("scale") else 1.0
        unit = match.group("sign") or match.group("unit") or ""
        raw.append([number, unit.lower(), match.start(), match.end(), scale])
    # a range: "2 to 5 minutes", "between 3 and 12 months", "£5-£10", "$188-194 million" share
    # the last one's unit and scale
    for before, after in zip(raw[::-1][1:], raw[::-1], strict=False):
        if _RANGE.match(text[before[3] : after[2]]):
            if not before[1] and after[1]:
                before[1] = after[1]
            elif before[1] in _CURRENCY_SIGNS and not after[1]:
                after[1] = before[1]  # "$188-194 million": the sign is written once
            if before[4] == 1.0 and after[4] != 1.0:
                before[4] = after[4]
    for number, unit, start, end, scale in raw:
        dimension, factor = _UNIT_TABLE.get(unit, ("", 1.0))
        found.append(Value(number * scale * factor, dimension, number * scale, start, end))
    return sorted(found, key=lambda value: value.start)


def same(claimed: Value, stated: Value) -> bool:
    """Whether a claim's value is the source's: equal numbers in the same dimension after
    conversion; a bare number on either side compares by number alone ("six" = "6 years");
    dates by day and month, and by year where both give one ("30 April" = "30 April 2025";
    "30 May 2025" is not "30 April 2025"), a bare number with a date by its day or year."""
    if DATE in (claimed.dimension, stated.dimension):
        return _same_date(claimed, stated)
    if claimed.dimension and stated.dimension and claimed.dimension != stated.dimension:
        return False
    if not (claimed.dimension and stated.dimension):
        # a bare number against a measure: as written, not converted ("6" = "6 years")
        return _close(claimed.written, stated.written)
    return _close(claimed.number, stated.number)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _number(written: str) -> float | None:
    text = written.lower().replace(",", "")
    try:
        return float(text)
    except ValueError:
        pass
    total, current = 0.0, 0.0
    for word in re.split(r"[\s-]+", text.replace(" and ", " ")):
        if not word or word == "and":
            continue
        if word in _SCALES:
            current = max(current, 1.0) * _SCALES[word]
            if _SCALES[word] >= 1e3:
                total, current = total + current, 0.0
        elif word in WORD_VALUES:
            current += WORD_VALUES[word]
        elif word == "a":
            current += 1.0
        elif word == "dozen":
            current = max(current, 1.0) * 12
        else:
            return None
    return total + current


def _minutes(match: re.Match[str]) -> float:
    """Minutes after midnight."""
    if match.group("named"):
        return 0.0 if match.group("named").lower() == "midnight" else 720.0
    if match.group("hour24") is not None:
        return int(match.group("hour24")) * 60.0 + int(match.group("minute24"))
    hour, minute = int(match.group("hour")) % 12, int(match.group("minute") or 0)
    if match.group("half").lower().startswith("p"):
        hour += 12
    return hour * 60.0 + minute


def _same_date(claimed: Value, stated: Value) -> bool:
    if claimed.dimension == stated.dimension == DATE:
        one, other = divmod(int(claimed.number), 10_000), divmod(int(stated.number), 10_000)
        return one[1] == other[1] and (not one[0] or not other[0] or one[0] == other[0])
    date, bare = (claimed, stated) if claimed.dimension == DATE else (stated, claimed)
    if bare.dimension:
        return False
    return _close(bare.written, date.written) or _close(bare.written, date.number // 10_000)
