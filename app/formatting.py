"""Numbers as a resident reads them, per language: whole numbers, decimals, percentages and
amounts of money. The kiosk, the facilitator screen and the projector all format through here,
so one figure reads the same on each of them.

The rules come from Babel's CLDR data (grouping, decimal mark, where the % and the currency
symbol go), with two choices of our own:

- French groups thousands with a no-break space U+00A0, not CLDR's narrow one (U+202F): the
  font the screens draw with (Kivy's Roboto) has no glyph for U+202F, which shrank "240 000"
  to "240000". `GROUP_SEPARATOR_FR` is that choice, in one place.
- Halves round up (0.625 → "63 %", 2.45 → "2,5"), as people round, not to the even digit.

Amounts of money are whole currency units (budgets are given in whole euros): no cents.
Values that are not numbers (None, a missing field in a hub's answer) give "" rather than
raising, so one odd value never breaks a whole screen.

    >>> number(12345, "fr"), number(12345, "it"), number(12345, "en")
    ('12\\xa0345', '12.345', '12,345')
    >>> decimal(3.5, "fr"), percent(0.45, "fr"), percent(0.45, "it"), money(1500, "fr")
    ('3,5', '45\\xa0%', '45%', '1\\xa0500\\xa0€')
"""
from __future__ import annotations

import decimal as _decimal
from functools import lru_cache

GROUP_SEPARATOR_FR = "\u00a0"
_NARROW_NO_BREAK_SPACE = "\u202f"
DEFAULT_CURRENCY = "EUR"


def _numbers():
    # Imported on first use: Babel and its locale data cost tens of milliseconds, and the
    # kiosk's welcome screen shows no figure (bench/kiosk_start.py).
    from babel import numbers
    return numbers


def _drawable(text: str) -> str:
    return text.replace(_NARROW_NO_BREAK_SPACE, GROUP_SEPARATOR_FR)


def _as_decimal(value) -> _decimal.Decimal | None:
    try:
        result = _decimal.Decimal(str(value)) if isinstance(value, float) else \
            _decimal.Decimal(value)
    except (TypeError, ValueError, ArithmeticError):
        return None
    return result if result.is_finite() else None


def _format(function, value: _decimal.Decimal, lang: str, **kwargs) -> str:
    with _decimal.localcontext() as context:
        context.rounding = _decimal.ROUND_HALF_UP
        return _drawable(function(value, locale=lang, **kwargs))


@lru_cache(maxsize=None)
def _whole_currency_pattern(lang: str) -> str:
    """The language's currency pattern without its decimals ('#,##0.00 ¤' → '#,##0 ¤')."""
    from babel import Locale
    pattern = Locale.parse(lang).currency_formats["standard"].pattern
    return pattern.replace(".00", "")


def number(value, lang: str) -> str:
    """A whole number as `lang` writes it, rounded: 12 345 (fr), 12.345 (it), 12,345 (en)."""
    value = _as_decimal(value)
    if value is None:
        return ""
    return _format(_numbers().format_decimal, value, lang, format="#,##0")


def decimal(value, lang: str, digits: int = 1) -> str:
    """A number with `digits` decimals: 3,5 (fr, it), 3.5 (en); thousands grouped."""
    value = _as_decimal(value)
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return _format(_numbers().format_decimal, value, lang, format=pattern)


def percent(share, lang: str) -> str:
    """A share of 1 as a whole percentage: 0.45 → 45 % (fr, no-break space), 45% (it, en)."""
    share = _as_decimal(share)
    if share is None:
        return ""
    return _format(_numbers().format_percent, share, lang)


def money(amount, lang: str, currency: str = DEFAULT_CURRENCY) -> str:
    """An amount in whole units of `currency`: 1 500 € (fr), 1.500 € (it), €1,500 (en)."""
    amount = _as_decimal(amount)
    if amount is None:
        return ""
    return _format(_numbers().format_currency, amount, lang, currency=currency,
                   format=_whole_currency_pattern(lang), currency_digits=False)


def day(iso: str, lang: str) -> str:
    """A date as the screens write it, one way everywhere: 03/12/2026 (fr, it), 12/03/2026
    (en), from an ISO date or date-time ('2026-12-03' or '2026-12-03T18:30'). "" if it is not
    a date."""
    date_part = (iso or "").partition("T")[0]
    parts = date_part.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return ""
    year, month, dd = parts
    return f"{month}/{dd}/{year}" if lang == "en" else f"{dd}/{month}/{year}"


def day_and_time(iso: str, lang: str) -> str:
    """'03/12/2026 · 18:30' from an ISO date-time; the date alone when no time is given."""
    when = day(iso, lang)
    time = (iso or "").partition("T")[2][:5]
    return when + (" · " + time if when and time else "")


def local_day_and_time(iso: str | None, lang: str) -> str:
    """A moment the device's clock wrote in UTC ('2026-12-06T19:30:05+00:00'), as the screens
    write it in the device's own time zone: '06/12/2026 · 20:30' in Paris. "" if it is not an
    ISO date-time."""
    from datetime import datetime, timezone
    try:
        moment = datetime.fromisoformat(iso or "")
    except (TypeError, ValueError):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return day_and_time(moment.astimezone().strftime("%Y-%m-%dT%H:%M"), lang)


def whole_percents(counts) -> list[int]:
    """Whole percentages of `counts` that add up to exactly 100 (largest remainder: each
    share is rounded down, then the points left go to the largest remainders, ties to the
    earlier one). All zero when nothing was counted.

    >>> whole_percents([1, 1, 1]), whole_percents([2, 1]), whole_percents([0, 0])
    ([34, 33, 33], [67, 33], [0, 0])
    """
    counts = [max(0, int(c)) for c in counts]
    total = sum(counts)
    if total == 0:
        return [0] * len(counts)
    floors = [c * 100 // total for c in counts]
    remainders = [c * 100 % total for c in counts]
    left = 100 - sum(floors)
    order = sorted(range(len(counts)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors
