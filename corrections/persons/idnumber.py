"""Resident identity card numbers (居民身份证号码), GB 11643-1999.

18 characters: 6-digit address code, 8-digit birth date (YYYYMMDD), 3-digit sequence code whose
last digit is odd for men and even for women, and a check character (ISO 7064 MOD 11-2,
``X`` standing for 10).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from corrections.core.i18n import Message, _

_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, ...
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII: \d would take any script's digits
# Province-level codes (first two digits) in use.
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
        "91",
    ]
)


class IdNumberError(ValueError):
    """An ID number that is not one; ``reason`` says why (a message: core/i18n.py)."""

    def __init__(self, reason: Message):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: date
    gender: str  # "male" / "female"


def check_char(first17: str) -> str:
    """The check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse(raw: str) -> IdNumber:
    """Validate and decode an ID number; raise :class:`IdNumberError` with a reason.

    Full-width digits and ``Ｘ`` (an input method's) are read as their ASCII forms (NFKC), so
    the number has one spelling; the decoded value is always ASCII."""
    value = unicodedata.normalize("NFKC", raw).strip().upper()
    if not _SHAPE.match(value):
        raise IdNumberError(_("must be 17 digits followed by a digit or X"))
    if value[:2] not in _PROVINCES:
        raise IdNumberError(_("the address code does not name a province"))
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise IdNumberError(_("the birth date in the number is not a calendar date")) from exc
    if birth.year < 1900:
        raise IdNumberError(_("the birth date in the number is before 1900"))
    if check_char(value[:17]) != value[17]:
        raise IdNumberError(_("the check digit is wrong"))
    gender = "male" if int(value[16]) % 2 == 1 else "female"
    return IdNumber(value=value, birth_date=birth, gender=gender)


def make(address_code: str, birth: date, sequence: int) -> str:
    """Build a valid number (for the demo generator and tests)."""
    first17 = f"{address_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
