"""Tests for the phonemizer wrapper: word/phone structure, normalisation and silence insertion."""

from __future__ import annotations

import numpy as np
import pytest

from unsup_asr.text import phonemize
from unsup_asr.text.phonemize import SIL, insert_silences, normalize_phone, normalize_text, phonemize_words


def test_phonemize_words_structure() -> None:
    out = phonemize_words(["Hello world", "the cat sat"])
    assert out[0] == [["h", "ə", "l", "oʊ"], ["w", "ɜː", "l", "d"]]
    assert len(out) == 2 and len(out[1]) == 3
    assert all(isinstance(p, str) and p for word in out[1] for p in word)


def test_phonemize_words_case_insensitive_and_clean() -> None:
    text = "SHE WAS THE YOUNGEST OF THE TWO DAUGHTERS OF A MOST AFFECTIONATE FATHER"
    upper, lower = phonemize_words([text, text.lower()])
    assert upper == lower
    phones = {p for word in upper for p in word}
    assert not any(mark in p for p in phones for mark in ("ˈ", "ˌ", "\u0361", " ", "|"))


def test_phonemize_words_multi_character_phones() -> None:
    (out,) = phonemize_words(["I go now to the church judge"])
    assert out == [["aɪ"], ["ɡ", "oʊ"], ["n", "aʊ"], ["t", "ə"], ["ð", "ə"], ["tʃ", "ɜː", "tʃ"], ["dʒ", "ʌ", "dʒ"]]


def test_phonemize_words_empty() -> None:
    assert phonemize_words([]) == []
    with pytest.raises(ValueError, match="njobs"):
        phonemize_words(["a b"], njobs=0)


def test_normalize() -> None:
    assert normalize_phone("ˈoʊ") == "oʊ"
    assert normalize_phone("t͡ʃ") == "tʃ"
    assert normalize_phone("ˌɜː") == "ɜː"
    assert normalize_phone("") == ""
    assert normalize_text("  HELLO   World ") == "hello world"


def test_missing_backend_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from phonemizer.backend import EspeakBackend

    phonemize._backend.cache_clear()
    monkeypatch.setattr(EspeakBackend, "is_available", staticmethod(lambda: False))
    try:
        with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
            phonemize_words(["hello"])
    finally:
        phonemize._backend.cache_clear()


def test_insert_silences_extremes() -> None:
    words = [["h", "aɪ"], ["ð", "ɛɹ"], ["j", "uː"]]
    rng = np.random.default_rng(0)
    assert insert_silences(words, sil_prob=0.0, rng=rng) == [SIL, "h", "aɪ", "ð", "ɛɹ", "j", "uː", SIL]
    assert insert_silences(words, sil_prob=1.0, rng=rng, surround=False) == ["h", "aɪ", SIL, "ð", "ɛɹ", SIL, "j", "uː"]
    assert insert_silences([], sil_prob=0.5, rng=rng, surround=False) == []
    with pytest.raises(ValueError, match="sil_prob"):
        insert_silences(words, sil_prob=1.5, rng=rng)


def test_insert_silences_rate_and_determinism() -> None:
    words = [["a"]] * 2001
    a = insert_silences(words, sil_prob=0.25, rng=np.random.default_rng(3), sil="<s>", surround=False)
    b = insert_silences(words, sil_prob=0.25, rng=np.random.default_rng(3), sil="<s>", surround=False)
    assert a == b
    assert a.count("a") == 2001
    assert 0.2 < a.count("<s>") / 2000 < 0.3
