"""Tests for the unsupervised selection metric (wav2vec-U weighted LM perplexity)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from unsup_asr.metrics.unsupervised import weighted_lm_ppl
from unsup_asr.text.lm import KenLM, build_lm

PHONES = ["AA", "B", "D", "EH", "F", "G"]
VOCAB = ["<SIL>", *PHONES]


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory, kenlm_tools: None) -> KenLM:
    tmp = tmp_path_factory.mktemp("ulm")
    rng = random.Random(0)
    # sentences step by 1 through the inventory: every phone is frequent and predictable
    lines = []
    for _ in range(200):
        start, n = rng.randrange(len(PHONES)), rng.randint(3, 9)
        lines.append(" ".join(PHONES[(start + j) % len(PHONES)] for j in range(n)))
    text = tmp / "text.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return KenLM(build_lm(text, Path(tmp / "lm"), order=3))


def test_matches_formula(lm: KenLM) -> None:
    hyps = [["AA", "B", "D"], ["EH", "F"], []]
    score = weighted_lm_ppl(hyps, lm, vocab=VOCAB)
    total = sum(lm.score(h) for h in hyps)
    ppl = 10 ** (-total / (5 + 3))
    assert score.num_tokens == 5
    assert score.lm_ppl == pytest.approx(ppl)
    assert score.vocab_seen_pct == pytest.approx(5 / 6)  # silence excluded from the inventory
    assert score.weighted_lm_ppl == pytest.approx(ppl / (5 / 6) ** 2)
    assert weighted_lm_ppl(hyps, lm, vocab=VOCAB, power=0).weighted_lm_ppl == pytest.approx(ppl)


def test_prefers_fluent_diverse_output(lm: KenLM) -> None:
    good = [[PHONES[(s + j) % 6] for j in range(6)] for s in range(6)]
    scrambled = [[PHONES[(s + 2 * j + j * j) % 6] for j in range(6)] for s in range(6)]
    collapsed = [["AA", "B"] * 3 for _ in range(6)]
    w_good = weighted_lm_ppl(good, lm, vocab=VOCAB).weighted_lm_ppl
    assert w_good < weighted_lm_ppl(scrambled, lm, vocab=VOCAB).weighted_lm_ppl
    collapsed_score = weighted_lm_ppl(collapsed, lm, vocab=VOCAB)
    assert collapsed_score.vocab_seen_pct == pytest.approx(2 / 6)
    assert w_good < collapsed_score.weighted_lm_ppl


def test_all_empty_is_infinite(lm: KenLM) -> None:
    score = weighted_lm_ppl([[], []], lm, vocab=VOCAB)
    assert score.num_tokens == 0 and score.vocab_seen_pct == 0.0
    assert math.isfinite(score.lm_ppl) and score.weighted_lm_ppl == math.inf


def test_bad_input(lm: KenLM) -> None:
    with pytest.raises(ValueError, match="no hypotheses"):
        weighted_lm_ppl([], lm, vocab=VOCAB)
    with pytest.raises(ValueError, match="remove silence"):
        weighted_lm_ppl([["AA", "<SIL>"]], lm, vocab=VOCAB)
    with pytest.raises(ValueError, match="no phones besides silence"):
        weighted_lm_ppl([[]], lm, vocab=["<SIL>"])
