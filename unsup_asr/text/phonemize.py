"""Words to IPA phones with espeak-ng (through the ``phonemizer`` package), and silence insertion.

This is the only module that imports :mod:`phonemizer`. One phone set serves audio labels and
text: :func:`normalize_text` and :func:`normalize_phone` are applied both here and to the phoneme
events of :mod:`unsup_asr.data.espeak`, so the same sentence gets the same phones from both
(diphthongs and r-coloured vowels are single tokens such as ``oʊ`` and ``ɑːɹ``, length marks stay
attached as in ``ɜː``, and there are no stress marks or tie bars).
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

import numpy as np

SIL = "<SIL>"
"""The silence token of phone sequences."""

_WORD_SEP = "|"
_PHONE_SEP = " "
_DROPPED_MARKS = str.maketrans("", "", "ˈˌ\u0361\u035c‿")
_INSTALL_HINT = "install espeak-ng with `apt-get install espeak-ng` (or run scripts/setup.sh)"


def normalize_text(sentence: str) -> str:
    """Lower-case and collapse whitespace: espeak-ng reads all-caps words as acronyms or stressed."""
    return " ".join(sentence.lower().split())


def normalize_phone(phone: str) -> str:
    """Canonical form of one espeak IPA phone: NFC, without stress marks, tie bars or spaces.

    Returns ``""`` for a pause (espeak's empty phoneme event).
    """
    return unicodedata.normalize("NFC", phone).translate(_DROPPED_MARKS).strip()


@functools.cache
def _backend(language: str) -> Any:
    try:
        from phonemizer.backend import EspeakBackend
    except ImportError as e:
        raise RuntimeError(f"the `phonemizer` package is missing: `pip install phonemizer` ({e})") from e
    if not EspeakBackend.is_available():
        raise RuntimeError(f"phonemizer cannot find the espeak-ng library: {_INSTALL_HINT}")
    try:
        return EspeakBackend(
            language,
            with_stress=False,
            preserve_punctuation=False,
            language_switch="remove-flags",
        )
    except RuntimeError as e:
        raise ValueError(f"espeak-ng has no language {language!r} ({e}); list them with `espeak-ng --voices`") from e


def phonemize_words(sentences: list[str], *, language: str = "en-us", njobs: int = 1) -> list[list[list[str]]]:
    """Phonemize sentences: for each sentence, its words, each a list of IPA phones.

    Sentences go through :func:`normalize_text` and phones through :func:`normalize_phone`. Word
    splits are espeak-ng's (it occasionally joins short function words to a neighbour). A sentence
    with nothing to pronounce gives ``[]``.
    """
    if njobs < 1:
        raise ValueError(f"njobs={njobs} must be >= 1")
    if not sentences:
        return []
    from phonemizer.separator import Separator

    backend = _backend(language)
    out = backend.phonemize(
        [normalize_text(s) for s in sentences],
        separator=Separator(phone=_PHONE_SEP, word=_WORD_SEP, syllable=None),
        strip=True,
        njobs=njobs,
    )
    result = []
    for line in out:
        words = []
        for word in line.split(_WORD_SEP):
            phones = [q for q in (normalize_phone(p) for p in word.split(_PHONE_SEP)) if q]
            if phones:
                words.append(phones)
        result.append(words)
    return result


def insert_silences(
    words: list[list[str]],
    *,
    sil_prob: float,
    rng: np.random.Generator,
    sil: str = SIL,
    surround: bool = True,
) -> list[str]:
    """Flatten ``words`` to one phone list, with ``sil`` between words with probability ``sil_prob``.

    With ``surround`` the list also starts and ends with ``sil`` (as wav2vec-U's
    ``phonemize_with_sil.py``). Consumes ``len(words) - 1`` draws from ``rng``.
    """
    if not 0.0 <= sil_prob <= 1.0:
        raise ValueError(f"sil_prob={sil_prob} must be a probability in [0, 1]")
    draws = rng.random(max(len(words) - 1, 0))
    phones = [sil] if surround else []
    for i, word in enumerate(words):
        if i > 0 and draws[i - 1] < sil_prob:
            phones.append(sil)
        phones.extend(word)
    if surround:
        phones.append(sil)
    return phones
