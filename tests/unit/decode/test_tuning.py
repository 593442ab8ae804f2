"""Tests for the label-free tuning of lm_weight and word_score."""

from __future__ import annotations

import inspect
import math
import random
from pathlib import Path

import numpy as np
import pytest

from unsup_asr.decode.lexicon_lm import LexiconDecoder, LexiconDecoderConfig, WordHypothesis, build_word_lm
from unsup_asr.decode.tuning import (
    TuningConfig,
    selection_score,
    tune_lexicon_decoder,
    viterbi_pseudo_labels,
)
from unsup_asr.text.lexicon import Lexicon
from unsup_asr.text.lm import KenLM, find_kenlm_tool

SIL = "<SIL>"
PRONS = {
    "THE": "dh ah", "A": "ah", "CAT": "k ae t", "DOG": "d ao g", "SAT": "s ae t", "RAN": "r ae n", "ON": "aa n",
    "TO": "t uw", "MAT": "m ae t", "HAT": "hh ae t", "SUN": "s ah n", "BIG": "b ih g", "RED": "r eh d",
    "SEES": "s iy z", "IT": "ih t", "IS": "ih z", "HOT": "hh aa t",
}  # fmt: skip
VOCAB = [*sorted({p for pron in PRONS.values() for p in pron.split()}), SIL]


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    subjects = ["THE CAT", "THE DOG", "A BIG DOG", "THE RED CAT"]
    verbs = ["SAT ON", "RAN TO", "SEES"]
    objects = ["THE MAT", "A HAT", "THE SUN", "A RED HAT"]
    return [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}" for _ in range(n)]


def _noisy(sentence: str, rng: np.random.Generator) -> np.ndarray:
    """Segment log-probs: half a weak one-hot on the true phones (<SIL> around), half Dirichlet noise."""
    phones = [SIL] + [p for w in sentence.split() for p in PRONS[w].split()] + [SIL]
    peak = np.full((len(phones), len(VOCAB)), 0.65 / (len(VOCAB) - 1))
    peak[np.arange(len(phones)), [VOCAB.index(p) for p in phones]] = 0.35
    noise = rng.dirichlet(np.full(len(VOCAB), 0.5), size=len(phones))
    return np.log(0.5 * peak + 0.5 * noise).astype(np.float32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[LexiconDecoder, KenLM]:
    try:
        find_kenlm_tool("lmplz")
    except RuntimeError as e:
        pytest.skip(f"KenLM binaries not built yet ({e})")
    lm_path = build_word_lm(_sentences(60, seed=0), tmp_path_factory.mktemp("tune") / "words", order=3)
    lexicon = Lexicon({w: [p.split()] for w, p in PRONS.items()})
    return LexiconDecoder(lexicon, lm_path, VOCAB, LexiconDecoderConfig(progress=False)), KenLM(lm_path)


def test_tuning_takes_no_references() -> None:
    params = set(inspect.signature(tune_lexicon_decoder).parameters)
    assert params == {"decoder", "log_probs", "word_lm", "config"}
    for fn in (tune_lexicon_decoder, selection_score, viterbi_pseudo_labels):
        assert not any(k in p for p in inspect.signature(fn).parameters for k in ("ref", "transcript", "truth"))


def test_grid_search_picks_a_good_setting(setup: tuple[LexiconDecoder, KenLM]) -> None:
    decoder, lm = setup
    rng = np.random.default_rng(1)
    sentences = _sentences(20, seed=1)
    valid = [_noisy(s, rng) for s in sentences]
    config = TuningConfig(lm_weights=[0.0, 1.0, 4.0], word_scores=[-3.0, 0.0, 2.0], progress=False)
    result = tune_lexicon_decoder(decoder, valid, lm, config)
    assert [(p.lm_weight, p.word_score) for p in result.grid] == [(w, s) for w in (0.0, 1.0, 4.0) for s in (-3, 0, 2)]
    assert result.best.selection.score == min(p.selection.score for p in result.grid)
    rows = result.rows()
    assert len(rows) == 9 and set(rows[0]) == {"lm_weight", "word_score", "score", "lm_ppl", "uer", "num_words",
                                                "num_empty"}
    # Only now, for the test's own check, compare with the truth: the chosen setting is among the best.
    def right(lm_weight: float, word_score: float) -> int:
        words = decoder.with_options(lm_weight=lm_weight, word_score=word_score)(valid)
        return sum(w == s.split() for w, s in zip(words, sentences, strict=True))

    accuracy = {(p.lm_weight, p.word_score): right(p.lm_weight, p.word_score) for p in result.grid}
    assert accuracy[(result.best.lm_weight, result.best.word_score)] >= max(accuracy.values()) - 2
    assert accuracy[(result.best.lm_weight, result.best.word_score)] > accuracy[(0.0, -3.0)]


def test_empty_outputs_are_penalised(setup: tuple[LexiconDecoder, KenLM]) -> None:
    decoder, lm = setup
    rng = np.random.default_rng(2)
    valid = [_noisy(s, rng) for s in _sentences(6, seed=2)]
    result = tune_lexicon_decoder(decoder, valid, lm, TuningConfig(lm_weights=[1.0], word_scores=[-200.0, 0.0],
                                                                   progress=False))
    silent, normal = result.grid
    assert silent.selection.num_empty == 6 and silent.selection.score == math.inf
    assert result.best is normal and normal.selection.num_empty == 0


def test_selection_score_by_hand(setup: tuple[LexiconDecoder, KenLM]) -> None:
    _, lm = setup
    hyps = [WordHypothesis(words=["THE", "CAT"], phones=["dh", "ah", "k", "ae", "t"], score=0, am_score=0, lm_score=0),
            WordHypothesis(words=[], phones=[], score=0, am_score=0, lm_score=0)]
    pseudo = [["dh", "ah", "k", "eh", "t"], ["ih", "t"]]
    got = selection_score(hyps, pseudo, lm)
    ppl = 10 ** (-lm.score(["THE", "CAT"]) / 3)  # the empty hypothesis is left out of the perplexity
    assert got.uer == pytest.approx(3 / 7)  # one substitution, two deletions over 7 pseudo-label phones
    assert got.lm_ppl == pytest.approx(ppl) and got.score == pytest.approx(math.log(ppl) * 3 / 7)
    assert got.num_words == 2 and got.num_empty == 1
    floored = selection_score(hyps, pseudo, lm, min_uer=0.9)
    assert floored.score == pytest.approx(math.log(ppl) * 0.9)
    with pytest.raises(ValueError, match="one per utterance"):
        selection_score(hyps, pseudo[:1], lm)
    with pytest.raises(ValueError, match="only silence"):
        selection_score(hyps, [[], []], lm)


def test_config_validation(setup: tuple[LexiconDecoder, KenLM]) -> None:
    decoder, lm = setup
    for bad, match in [({"lm_weights": []}, "at least one"), ({"lm_weights": [-1.0]}, "lm_weights"),
                       ({"word_scores": [math.inf]}, "word_scores"), ({"min_uer": 2.0}, "min_uer")]:
        with pytest.raises(ValueError, match=match):
            TuningConfig(**bad).validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no validation utterances"):
        tune_lexicon_decoder(decoder, [], lm)


def test_pseudo_labels_are_viterbi(tmp_path: Path) -> None:
    lp = np.log(np.full((4, 3), 0.1, dtype=np.float32))
    lp[[0, 1, 2, 3], [0, 0, 2, 1]] = 0.0
    assert viterbi_pseudo_labels([lp], ["a", "b", SIL], SIL) == [["a", "b"]]
