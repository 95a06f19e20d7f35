"""Numbers in KCIF answers: parsing option text, formatting like the original, English and Chinese words."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from followkit.constraints.text import NUMBER_WORDS

# A plain number as it appears in an option: optional sign and dollar sign, digits with optional
# thousands separators, optional decimals. Units ("12 cm") and percents are not numbers here: an
# instruction that rewrites the number would have to guess what to do with the unit.
_NUMBER_RE = re.compile(r"^(-)?(\$)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")

WORDS_LIMIT = 10**12
"""Numbers at or above this magnitude are not written in words (the instruction is skipped)."""

_ONES = list(NUMBER_WORDS[:20])
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
_ZH_DIGITS = "零一二三四五六七八九"


def parse_number(text: str) -> Decimal | None:
    """The value of an option that is a plain number ('12', '-3.5', '1,234', '$4.50'), else None."""
    m = _NUMBER_RE.match(text.strip())
    if not m:
        return None
    sign, _, whole, frac = m.groups()
    try:
        value = Decimal(whole.replace(",", "") + (f".{frac}" if frac else ""))
    except InvalidOperation:  # pragma: no cover - the regex admits only digits
        return None
    return -value if sign else value


def decimals_of(text: str) -> int:
    """Number of digits after the decimal point in a number's text."""
    m = _NUMBER_RE.match(text.strip())
    return len(m.group(4) or "") if m else 0


def format_like(original: str, value: Decimal) -> str:
    """`value` written in the style of `original`: same decimals, thousands separators and dollar sign."""
    places = decimals_of(original)
    q = value.quantize(Decimal(1).scaleb(-places)) if places else value.to_integral_value()
    sep = "," if "," in original.strip() else ""
    body = f"{abs(q):{sep}.{places}f}"
    dollar = "$" if "$" in original else ""
    return f"{'-' if q < 0 else ''}{dollar}{body}"


def is_integer(value: Decimal) -> bool:
    """True if the value has no fractional part."""
    return value == value.to_integral_value()


WORDS_FROM_VALUE = True
"""Policy: 'in words' writes the option's parsed value, so '1,234' becomes 'one thousand, two
hundred and thirty-four'. KCIF passes the option text to num2words, which raises on '1,234' and
leaves such an answer as it is; followkit reads the thousands separators instead."""


def _en_cardinal(n: int) -> str:
    """0 <= n in English words, British style as num2words writes them: 'and' before a last part
    under a hundred, a comma between larger parts."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else "")
    if n < 1000:
        head, rest = f"{_ONES[n // 100]} hundred", n % 100
    else:
        scale, name = next((v, w) for v, w in _SCALES if n >= v)
        head, rest = f"{_en_cardinal(n // scale)} {name}", n % scale
    if not rest:
        return head
    return head + (" and " if rest < 100 else ", ") + _en_cardinal(rest)


def words_en(value: int | Decimal) -> str:
    """A number in English words as KCIF writes them (num2words): 105 -> 'one hundred and five',
    1234 -> 'one thousand, two hundred and thirty-four', 3.5 -> 'three point five'."""
    v = Decimal(value)
    if abs(v) >= WORDS_LIMIT:
        raise ValueError(f"{value} is too large to write in words")
    if is_integer(v):
        n = int(v)
        return ("minus " if n < 0 else "") + _en_cardinal(abs(n))
    # num2words reads the decimals of the float's shortest repr, digit by digit ('12.50' -> 'five').
    text = repr(abs(float(v)))
    if "e" in text:
        raise ValueError(f"{value} has too many decimals to write in words")
    whole, frac = text.split(".")
    digits = " ".join(_ONES[int(d)] for d in frac)
    return f"{'minus ' if v < 0 else ''}{_en_cardinal(int(whole))} point {digits}"


def _zh_section(n: int) -> str:
    """0 < n < 10000 in Chinese numerals, with 零 for inner zeros and none at the end."""
    out, zero = "", False
    for div, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = (n // div) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _ZH_DIGITS[d] + unit
    return out


def words_zh(n: int) -> str:
    """An integer in Chinese numerals: 342 -> 三百四十二, 10005 -> 一万零五, 15 -> 十五 (二, never 两)."""
    if abs(n) >= WORDS_LIMIT:
        raise ValueError(f"{n} is too large to write in words")
    if n < 0:
        return "负" + words_zh(-n)
    if n == 0:
        return "零"
    sections = [(n // 10**8) % 10**4, (n // 10**4) % 10**4, n % 10**4]
    units = ("亿", "万", "")
    out, pending_zero = "", False
    for sec, unit in zip(sections, units, strict=True):
        if sec == 0:
            pending_zero = bool(out)
            continue
        if out and (pending_zero or sec < 1000):
            out += "零"
        out += _zh_section(sec) + unit
        pending_zero = False
    # 10-19 (and 十万, 十亿 ...) drop the leading 一: 十五, not 一十五.
    return out[1:] if out.startswith("一十") else out
