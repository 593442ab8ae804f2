"""Tests for the flashlight lexicon + word-LM decoder and the lexicon-free phone-LM decoder."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from unsup_asr.decode.lexicon_lm import (
    LexiconDecoder,
    LexiconDecoderConfig,
    PhoneLMDecoder,
    PhoneLMDecoderConfig,
    build_word_lm,
)
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.text.lexicon import Lexicon
from unsup_asr.text.lm import build_lm

SIL = "<SIL>"
PRONS = {
    "THE": "dh ah", "A": "ah", "CAT": "k ae t", "CUT": "k ah t", "DOG": "d ao g", "SAT": "s ae t",
    "RAN": "r ae n", "ON": "aa n", "TO": "t uw", "MAT": "m ae t", "HAT": "hh ae t", "SUN": "s ah n",
    "BIG": "b ih g", "RED": "r eh d", "SEES": "s iy z", "IT": "ih t", "IS": "ih z", "HOT": "hh aa t",
    "I": "ay", "FUN": "f ah n",
}  # fmt: skip
LEXICON = Lexicon({w: [p.split()] for w, p in PRONS.items()})
VOCAB = [*sorted({p for pron in PRONS.values() for p in pron.split()}), SIL]


def _sentences(n: int = 50) -> list[str]:
    """A tiny grammar; CUT only ever follows I, so "THE CUT" is unseen."""
    rng = random.Random(0)
    subjects = ["THE CAT", "THE DOG", "A BIG DOG", "THE RED CAT"]
    verbs = ["SAT ON", "RAN TO", "SEES"]
    objects = ["THE MAT", "A HAT", "THE SUN", "A RED HAT"]
    out = [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}" for _ in range(n)]
    return [*out, "I CUT IT", "IT IS HOT", "IT IS FUN", "THE SUN IS HOT"]



@pytest.fixture(scope="module")
def word_lm(tmp_path_factory: pytest.TempPathFactory, kenlm_tools: None) -> Path:
    return build_word_lm(_sentences(), tmp_path_factory.mktemp("wlm") / "words", order=3)


@pytest.fixture(scope="module")
def decoder(word_lm: Path) -> LexiconDecoder:
    return LexiconDecoder(LEXICON, word_lm, VOCAB, LexiconDecoderConfig(progress=False))


def _phones(words: str, sil_after: tuple[int, ...] = ()) -> list[str]:
    """Phones of ``words`` with <SIL> around the sentence and after the word positions ``sil_after``."""
    out = [SIL]
    for i, word in enumerate(words.split()):
        out += PRONS[word].split()
        if i in sil_after:
            out.append(SIL)
    return [*out, SIL]


def _near_one_hot(phones: list[str], p: float = 0.9) -> np.ndarray:
    """(S, V) natural-log probabilities with ``p`` on each segment's phone."""
    lp = np.full((len(phones), len(VOCAB)), math.log((1 - p) / (len(VOCAB) - 1)), dtype=np.float32)
    lp[np.arange(len(phones)), [VOCAB.index(x) for x in phones]] = math.log(p)
    return lp


def test_recovers_words_from_near_one_hot_segments(decoder: LexiconDecoder) -> None:
    sentences = ["THE CAT SAT ON THE MAT", "A BIG DOG SEES A RED HAT", "IT IS HOT"]
    utts = [_near_one_hot(_phones(s, sil_after=(1, 3))) for s in sentences]
    assert decoder(utts) == [s.split() for s in sentences]
    hyp = decoder.decode(utts[:1])[0]
    assert hyp.phones == "dh ah k ae t s ae t aa n dh ah m ae t".split()
    cfg = decoder.config
    expected = hyp.am_score + cfg.lm_weight * hyp.lm_score + 6 * cfg.word_score
    assert hyp.score == pytest.approx(expected, abs=1e-3)
    assert hyp.lm_score < 0 and hyp.am_score < 0


def test_repeated_segments_merge_and_silence_is_blank(decoder: LexiconDecoder) -> None:
    over = "dh dh ah k ae ae t t t <SIL> s ae t t aa n dh ah m m ae t t".split()
    assert decoder([_near_one_hot(over)]) == ["THE CAT SAT ON THE MAT".split()]
    inside = "<SIL> dh ah k <SIL> ae t s ae t aa n dh ah m ae t <SIL>".split()  # spurious silence in CAT
    assert decoder([_near_one_hot(inside)]) == ["THE CAT SAT ON THE MAT".split()]


def test_language_model_resolves_acoustic_ambiguity(decoder: LexiconDecoder) -> None:
    phones = _phones("THE CAT SAT ON THE MAT")
    lp = _near_one_hot(phones)
    ae = phones.index("ae")  # the vowel of CAT: acoustics slightly prefer CUT's ah
    lp[ae, :] = math.log(0.02)
    lp[ae, VOCAB.index("ah")] = math.log(0.5)
    lp[ae, VOCAB.index("ae")] = math.log(0.4)
    assert decoder.with_options(lm_weight=0.0)([lp])[0][1] == "CUT"
    assert decoder([lp])[0][1] == "CAT"


def _noisy(phones: list[str], rng: np.random.Generator) -> np.ndarray:
    """Half a weak one-hot (0.35 on the true phone), half random Dirichlet noise, as log-probabilities."""
    noise = rng.dirichlet(np.full(len(VOCAB), 0.5), size=len(phones))
    mixed: np.ndarray = np.log(0.5 * np.exp(_near_one_hot(phones, p=0.35)) + 0.5 * noise).astype(np.float32)
    return mixed


def test_noise_is_cleaned_up_by_lexicon_and_lm(decoder: LexiconDecoder) -> None:
    rng = np.random.default_rng(0)
    sentences = _sentences(20)[:20]
    noisy = [_noisy(_phones(s), rng) for s in sentences]
    viterbi_right = sum(decode_one(lp, VOCAB) == [p for p in _phones(s) if p != SIL]
                        for lp, s in zip(noisy, sentences, strict=True))
    decoded_right = sum(d == s.split() for d, s in zip(decoder(noisy), sentences, strict=True))
    assert decoded_right >= 18 and decoded_right > viterbi_right + 5


def test_word_and_silence_scores(decoder: LexiconDecoder) -> None:
    lp = _near_one_hot(_phones("THE CAT SAT ON THE MAT"))
    assert decoder.with_options(word_score=-100.0)([lp]) == [[]]
    assert decoder.with_options(sil_score=-100.0)([_near_one_hot(_phones("IT IS HOT"))]) == [["IT", "IS", "HOT"]]
    empty = decoder.decode([np.zeros((0, len(VOCAB)), dtype=np.float32)])[0]
    assert empty.words == [] and empty.phones == []


def test_unknown_words_when_enabled(decoder: LexiconDecoder) -> None:
    lp = _near_one_hot([SIL, "dh", "ah", "k", "ae", SIL])  # "k ae" is a prefix, no word
    assert decoder([lp]) != [["THE", "<unk>"]]
    assert decoder.with_options(unk_score=0.0)([lp]) == [["THE", "<unk>"]]


def test_words_outside_the_lm_or_the_vocab_are_left_out(word_lm: Path) -> None:
    lexicon = Lexicon({**{w: [p.split()] for w, p in PRONS.items()}, "ZEBRA": [["z", "iy"]], "OX": [["aa", "x"]]})
    dec = LexiconDecoder(lexicon, word_lm, VOCAB, LexiconDecoderConfig(progress=False))
    assert dec.num_skipped_words == 2 and "ZEBRA" not in dec.words
    extra = Lexicon({"CAT": [["k", "ae", "t"], ["k", "ae", "q"]]})
    assert LexiconDecoder(extra, word_lm, VOCAB).num_skipped_pronunciations == 1


def test_errors(decoder: LexiconDecoder, word_lm: Path) -> None:
    with pytest.raises(ValueError, match=rf"shape \(S, V={len(VOCAB)}\)"):
        decoder([np.zeros((3, 5), dtype=np.float32)])
    with pytest.raises(ValueError, match="NaN"):
        decoder([np.full((3, len(VOCAB)), np.nan, dtype=np.float32)])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        LexiconDecoder(LEXICON, word_lm, VOCAB[:-1])
    with pytest.raises(ValueError, match="repeated tokens"):
        LexiconDecoder(LEXICON, word_lm, [*VOCAB, "ah"])
    with pytest.raises(ValueError, match="no lexicon word is in the word LM"):
        LexiconDecoder(Lexicon({"ZEBRA": [["z"]]}), word_lm, VOCAB)
    with pytest.raises(ValueError, match="share one phone set"):
        LexiconDecoder(Lexicon({"CAT": [["k", "æ", "t"]]}), word_lm, VOCAB)
    with pytest.raises(FileNotFoundError, match="build_lm"):
        LexiconDecoder(LEXICON, word_lm.with_name("missing.bin"), VOCAB)
    bad_options: list[tuple[dict[str, float], str]] = [
        ({"lm_weight": -1.0}, "lm_weight"), ({"beam_size": 0}, "beam_size"),
        ({"unk_score": math.inf}, "unk_score"), ({"beam_threshold": 0.0}, "beam_threshold"),
        ({"word_score": math.nan}, "word_score"), ({"beam_size_token": 0}, "beam_size_token"),
    ]
    for bad, match in bad_options:
        with pytest.raises(ValueError, match=match):
            decoder.with_options(**bad)
    with pytest.raises(ValueError, match="silence"):
        PhoneLMDecoderConfig(silence="").validate()


@pytest.fixture(scope="module")
def phone_lm(tmp_path_factory: pytest.TempPathFactory, kenlm_tools: None) -> Path:
    tmp = tmp_path_factory.mktemp("plm")
    text = tmp / "phones.txt"
    text.write_text("\n".join(" ".join(p for p in _phones(s) if p != SIL) for s in _sentences(200)) + "\n")
    return build_lm(text, tmp / "phones", order=4)


def test_phone_lm_decoder(phone_lm: Path) -> None:
    dec = PhoneLMDecoder(phone_lm, VOCAB, PhoneLMDecoderConfig(progress=False))
    phones = _phones("THE CAT SAT ON THE MAT", sil_after=(1,))
    clean = _near_one_hot(phones)
    target = [p for p in phones if p != SIL]
    assert dec([clean]) == [target] == [decode_one(clean, VOCAB)]
    over = _near_one_hot([p for p in phones for _ in range(2)])  # every segment doubled
    assert dec([over]) == [target]
    noisy = clean.copy()
    i = phones.index("ae")
    noisy[i, :] = math.log(0.02)
    noisy[i, VOCAB.index("eh")] = math.log(0.5)
    noisy[i, VOCAB.index("ae")] = math.log(0.4)
    assert decode_one(noisy, VOCAB) != target
    assert dec([noisy]) == [target]
    assert dec([np.zeros((0, len(VOCAB)), dtype=np.float32)]) == [[]]


def test_phone_lm_decoder_errors(phone_lm: Path, word_lm: Path) -> None:
    with pytest.raises(ValueError, match="no phone of the vocabulary is in the phone LM"):
        PhoneLMDecoder(word_lm, VOCAB)
    with pytest.raises(ValueError, match="lm_weight"):
        PhoneLMDecoder(phone_lm, VOCAB, PhoneLMDecoderConfig(lm_weight=math.inf))


def test_build_word_lm_rewrites_only_on_change(tmp_path: Path, kenlm_tools: None) -> None:
    first = build_word_lm(["A CAT", "A DOG", "  "], tmp_path / "w", order=2)
    text = tmp_path / "w.txt"
    assert text.read_text(encoding="utf-8") == "A CAT\nA DOG\n"
    stamp = first.stat().st_mtime_ns
    assert build_word_lm(["A CAT", "A DOG"], tmp_path / "w", order=2).stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="no sentence"):
        build_word_lm(["", " "], tmp_path / "x")
