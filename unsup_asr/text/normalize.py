"""English text normalisation for unpaired LM text and evaluation transcripts.

One normal form serves both sides, so that the word LM, the lexicon and the references agree and
overlap between them can be detected: upper case, ASCII letters ``A-Z`` and word-internal
apostrophes only, words separated by single spaces. :func:`normalize_sentence` applies, in order:

1. **Unicode.** Typographic apostrophes (``’ ‘ ʼ ′``) become ``'``; accents are stripped (NFKD,
   combining marks removed: ``café`` -> ``CAFE``); the ligatures ``æ œ ß`` become ``AE OE SS``.
   A sentence still holding a letter outside ``A-Z`` afterwards (Greek, Cyrillic, ...) is
   **dropped**: deleting the letters would leave a sentence that was never written.
2. **Dashes** (``- – —``) separate words: ``twenty-one`` -> ``TWENTY ONE``.
3. **Numbers** (see :class:`NumberPolicy`). With ``"spell"``, a token that is a plain integer
   (``42``, ``1,000``; below one billion) or an ordinal (``21st``, ``3rd``) is spelled out in
   American style without "and" (``105`` -> ``ONE HUNDRED FIVE``); a four-digit integer in
   1100-1999 or 2010-2099 is read as a year (``1850`` -> ``EIGHTEEN FIFTY``, ``1905`` ->
   ``NINETEEN OH FIVE``, ``1900`` -> ``NINETEEN HUNDRED``, ``2019`` -> ``TWENTY NINETEEN``).
   A sentence with **any other digit** (``3.5``, ``10:30``, ``$5``, ``5%``, ``1990s``, ``A4``)
   is **dropped**, since any reading would be a guess. With ``"drop"``, every sentence holding a
   digit is dropped.
4. **Punctuation.** Every other character that is not a letter or an apostrophe separates words
   (``U.S.`` -> ``U S``, ``and/or`` -> ``AND OR``); an apostrophe survives only between two
   letters (``SISTER'S``, ``DON'T``; quotes and ``'TIS`` / ``DOGS'`` lose theirs).
5. Upper case, whitespace collapsed. A sentence left empty is dropped.

``None`` stands for a dropped sentence. :func:`read_text_lines` reads plain or gzip UTF-8 text and
names the file and line of any invalid byte; :func:`deduplicate` and :func:`remove_overlap` clean
a normalised corpus (the latter removes evaluation transcripts from LM text).
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Literal

NumberPolicy = Literal["spell", "drop"]
"""How digits are handled: ``"spell"`` integers, ordinals and years (else drop), or ``"drop"``."""

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "′": "'", "`": "'"})
_LIGATURES = str.maketrans({"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ẞ": "SS"})
_DASHES = re.compile(r"[-‐‑‒–—―]")
_EDGE_PUNCT = "\"'()[]{}<>«»“”„,.;:!?…*_"
_INTEGER = re.compile(r"\d+|\d{1,3}(?:,\d{3})+")
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^A-Z']+")
_LONE_APOSTROPHE = re.compile(r"(?<![A-Z])'|'(?![A-Z])")
_ALREADY_NORMAL = re.compile(r"[A-Z]+(?:'[A-Z]+)*(?: [A-Z]+(?:'[A-Z]+)*)*")

_ONES = ("ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE THIRTEEN FOURTEEN FIFTEEN "
         "SIXTEEN SEVENTEEN EIGHTEEN NINETEEN").split()
_TENS = "_ _ TWENTY THIRTY FORTY FIFTY SIXTY SEVENTY EIGHTY NINETY".split()
_SCALES = ((1_000_000, "MILLION"), (1_000, "THOUSAND"))
_MAX_SPELLED = 999_999_999
_IRREGULAR_ORDINALS = {"ONE": "FIRST", "TWO": "SECOND", "THREE": "THIRD", "FIVE": "FIFTH", "EIGHT": "EIGHTH",
                       "NINE": "NINTH", "TWELVE": "TWELFTH"}


@dataclass(kw_only=True)
class NormalizeConfig:
    """Options of :func:`normalize_sentence`."""

    numbers: NumberPolicy = "spell"
    """``"spell"``: spell integers below one billion, ordinals and years, and drop sentences with
    any other digit; ``"drop"``: drop every sentence that holds a digit."""
    min_words: int = 1
    """Sentences with fewer words after normalisation are dropped (>= 1)."""

    def validate(self) -> None:
        """Raise ValueError on an invalid configuration."""
        if self.numbers not in ("spell", "drop"):
            raise ValueError(f"NormalizeConfig.numbers={self.numbers!r} must be 'spell' or 'drop'")
        if self.min_words < 1:
            raise ValueError(f"NormalizeConfig.min_words={self.min_words} must be >= 1")


@dataclass
class NormalizeStats:
    """Counts from :func:`normalize_lines`."""

    kept: int = 0
    """Sentences kept."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Dropped sentences per reason: ``"digits"``, ``"foreign"`` (letters outside A-Z), ``"short"``."""


def spell_integer(n: int) -> str:
    """Spell ``0 <= n <= 999_999_999`` in upper-case American English, without "and"."""
    if not 0 <= n <= _MAX_SPELLED:
        raise ValueError(f"spell_integer covers 0..{_MAX_SPELLED}, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} HUNDRED" + (f" {spell_integer(rest)}" if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{spell_integer(head)} {name}" + (f" {spell_integer(rest)}" if rest else "")
    raise AssertionError("unreachable")  # pragma: no cover


def spell_year(n: int) -> str:
    """Read a four-digit year as pairs: 1850 EIGHTEEN FIFTY, 1905 NINETEEN OH FIVE, 1900 NINETEEN HUNDRED."""
    if not 1000 <= n <= 9999:
        raise ValueError(f"spell_year needs a four-digit year, got {n}")
    head, tail = divmod(n, 100)
    if tail == 0:
        return f"{spell_integer(head)} HUNDRED"
    if tail < 10:
        return f"{spell_integer(head)} OH {spell_integer(tail)}"
    return f"{spell_integer(head)} {spell_integer(tail)}"


def spell_ordinal(n: int) -> str:
    """Spell an ordinal: 1 FIRST, 21 TWENTY FIRST, 40 FORTIETH, 100 ONE HUNDREDTH."""
    words = spell_integer(n).split()
    last = words[-1]
    if last in _IRREGULAR_ORDINALS:
        words[-1] = _IRREGULAR_ORDINALS[last]
    elif last.endswith("Y"):
        words[-1] = last[:-1] + "IETH"
    else:
        words[-1] = last + "TH"
    return " ".join(words)


def _is_year(token: str, value: int) -> bool:
    return len(token) == 4 and (1100 <= value <= 1999 or 2010 <= value <= 2099)


def _spell_number_token(token: str) -> str | None:
    """Words for one digit-bearing token, or None if it is not a plain integer/ordinal/year."""
    if _INTEGER.fullmatch(token):
        value = int(token.replace(",", ""))
        if value > _MAX_SPELLED:
            return None
        return spell_year(value) if _is_year(token, value) else spell_integer(value)
    match = _ORDINAL.fullmatch(token)
    if match and int(match.group(1)) <= _MAX_SPELLED:
        return spell_ordinal(int(match.group(1)))
    return None


def _transliterate(text: str) -> str:
    text = text.translate(_APOSTROPHES).translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _drop_reason(sentence: str, config: NormalizeConfig) -> tuple[str | None, str]:
    """The normalised sentence and ``""``, or ``None`` and the reason it was dropped."""
    if _ALREADY_NORMAL.fullmatch(sentence):  # fast path for text that is already normalised
        return (sentence, "") if sentence.count(" ") + 1 >= config.min_words else (None, "short")
    text = _DASHES.sub(" ", _transliterate(sentence))
    if any(c.isalpha() and not ("a" <= c.lower() <= "z") for c in text):
        return None, "foreign"
    words: list[str] = []
    for raw in text.split():
        token = raw.strip(_EDGE_PUNCT)
        if any(c.isdigit() for c in token):
            spelled = _spell_number_token(token) if config.numbers == "spell" else None
            if spelled is None:
                return None, "digits"
            words.append(spelled)
        else:
            words.append(token.upper())
    cleaned = _LONE_APOSTROPHE.sub(" ", _NOT_WORD.sub(" ", " ".join(words)))
    out = cleaned.split()
    if len(out) < config.min_words:
        return None, "short"
    return " ".join(out), ""


def normalize_sentence(sentence: str, config: NormalizeConfig | None = None) -> str | None:
    """Normalise one sentence (see the module docstring); ``None`` if it is dropped."""
    cfg = config or NormalizeConfig()
    cfg.validate()
    return _drop_reason(sentence, cfg)[0]


def normalize_lines(lines: Iterable[str], config: NormalizeConfig | None = None) -> tuple[list[str], NormalizeStats]:
    """Normalise many sentences; returns the kept ones (in order) and counts of the dropped ones."""
    cfg = config or NormalizeConfig()
    cfg.validate()
    kept: list[str] = []
    stats = NormalizeStats()
    for line in lines:
        out, reason = _drop_reason(line, cfg)
        if out is None:
            stats.dropped[reason] = stats.dropped.get(reason, 0) + 1
        else:
            kept.append(out)
    stats.kept = len(kept)
    return kept, stats


def deduplicate(sentences: Iterable[str]) -> list[str]:
    """Remove repeated sentences, keeping the first occurrence of each and the original order."""
    return list(dict.fromkeys(sentences))


def remove_overlap(
    sentences: Sequence[str],
    eval_transcripts: Iterable[str],
    *,
    contained_min_words: int | None = 6,
    config: NormalizeConfig | None = None,
) -> tuple[list[str], int]:
    """Remove from ``sentences`` every sentence that also occurs in ``eval_transcripts``.

    Both sides are compared after :func:`normalize_sentence` (with ``config``); sentences that
    normalise to nothing are kept as they are (they cannot match). Besides exact matches, a
    sentence that *contains* an evaluation transcript of at least ``contained_min_words`` words
    as a contiguous word sequence is removed too (prompt lists such as CMU ARCTIC are cut out of
    longer book sentences); ``None`` disables that check.

    Args:
        sentences: LM training sentences, in any form (returned unchanged when kept).
        eval_transcripts: transcripts of every evaluation split (valid and test).
        contained_min_words: shortest transcript (in words) looked for inside sentences, or None.
        config: normalisation options shared by both sides.

    Returns:
        The kept sentences (original order and form) and the number removed.
    """
    if contained_min_words is not None and contained_min_words < 1:
        raise ValueError(f"contained_min_words={contained_min_words} must be >= 1 or None")
    cfg = config or NormalizeConfig()
    cfg.validate()
    exact: set[str] = set()
    by_head: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for transcript in eval_transcripts:
        norm = _drop_reason(transcript, cfg)[0]
        if norm is None:
            continue
        exact.add(norm)
        words = tuple(norm.split())
        if contained_min_words is not None and len(words) >= contained_min_words:
            by_head.setdefault(words[:contained_min_words], []).append(words)
    kept: list[str] = []
    for sentence in sentences:
        norm = _drop_reason(sentence, cfg)[0]
        if norm is not None and (norm in exact or _contains_any(norm.split(), by_head, contained_min_words)):
            continue
        kept.append(sentence)
    return kept, len(sentences) - len(kept)


def _contains_any(words: list[str], by_head: dict[tuple[str, ...], list[tuple[str, ...]]], k: int | None) -> bool:
    """True if ``words`` holds one of the indexed transcripts (looked up by their first ``k`` words)."""
    if k is None or not by_head:
        return False
    for start in range(len(words) - k + 1):
        for candidate in by_head.get(tuple(words[start : start + k]), ()):
            if tuple(words[start : start + len(candidate)]) == candidate:
                return True
    return False


def read_text_lines(path: str | PathLike[str], *, skip_blank: bool = True) -> list[str]:
    """Lines of a UTF-8 text file (``.gz`` is decompressed), without line endings.

    A byte-order mark at the start is removed. Invalid UTF-8 raises ValueError naming the file,
    the line number and the byte, rather than failing somewhere downstream.

    Args:
        path: plain text or gzip file.
        skip_blank: leave out lines that hold only whitespace.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text file {path} does not exist")
    opener = gzip.open if path.name.endswith(".gz") else open
    lines: list[str] = []
    with opener(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                bad = raw[e.start : e.start + 1].hex()
                raise ValueError(
                    f"{path}:{lineno}: not valid UTF-8 (byte 0x{bad} at column {e.start + 1}); "
                    "re-encode the file, e.g. `iconv -f latin1 -t utf-8`"
                ) from e
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            line = line.rstrip("\r\n")
            if not skip_blank or line.strip():
                lines.append(line)
    return lines
