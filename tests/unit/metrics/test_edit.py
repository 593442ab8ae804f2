"""Tests for PER/WER edit-distance metrics."""

from __future__ import annotations

import random

import jiwer
import pytest

from unsup_asr.metrics.edit import edit_ops, error_rate, per, wer


def _naive_distance(a: list[str], b: list[str]) -> int:
    """Textbook O(nm) Levenshtein distance."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_edit_ops_hand_examples() -> None:
    ops = edit_ops(["a", "b", "c"], ["a", "x", "c", "d"])
    assert (ops.substitutions, ops.deletions, ops.insertions, ops.ref_len) == (1, 0, 1, 3)
    assert ops.errors == 2
    assert edit_ops(["a", "b"], []).deletions == 2
    assert edit_ops([], ["a"]).insertions == 1
    assert edit_ops(["sh", "iy"], ["sh", "iy"]).errors == 0


def test_multi_character_tokens_are_atomic() -> None:
    # "aa" vs "a a": one substitution + one insertion on tokens, not character edits
    assert edit_ops(["aa"], ["a", "a"]).errors == 2


def test_error_rate_matches_naive_dp() -> None:
    rng = random.Random(0)
    vocab = ["aa", "b", "ch", "d", "eh"]
    refs = [[rng.choice(vocab) for _ in range(rng.randint(1, 12))] for _ in range(50)]
    hyps = [[rng.choice(vocab) for _ in range(rng.randint(0, 12))] for _ in range(50)]
    result = per(refs, hyps)
    assert result.errors == sum(_naive_distance(r, h) for r, h in zip(refs, hyps, strict=True))
    assert result.ref_len == sum(map(len, refs))
    assert result.errors == result.substitutions + result.deletions + result.insertions
    assert result.rate == pytest.approx(result.errors / result.ref_len)


def test_wer_agrees_with_jiwer() -> None:
    refs = ["the cat sat on the mat", "hello world", "a b c d"]
    hyps = ["the cat sat mat", "hello there big world", "a x c d e"]
    ours = wer(refs, hyps)
    theirs = jiwer.process_words(refs, hyps)
    assert ours.substitutions == theirs.substitutions
    assert ours.deletions == theirs.deletions
    assert ours.insertions == theirs.insertions
    assert ours.rate == pytest.approx(theirs.wer)


def test_errors_on_bad_input() -> None:
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        error_rate([["a"], ["b"]], [["a"]])
    with pytest.raises(ValueError, match="empty references"):
        error_rate([[], []], [["a"], []])
