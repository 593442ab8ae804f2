"""Tests for the KenLM wrapper: building, caching, scoring and clear errors."""

from __future__ import annotations

import math
import os
import random
import sys
from pathlib import Path

import pytest

from unsup_asr.text.lm import KenLM, build_lm, find_kenlm_tool

PHONES = ["AA", "B", "K", "D", "EH", "F", "G", "IY"]



def _corpus(path: Path, n: int = 300) -> Path:
    """Sentences that walk the phone list in steps of 3 (a strongly predictable bigram structure)."""
    rng = random.Random(0)
    lines = []
    for _ in range(n):
        start = rng.randrange(len(PHONES))
        lines.append(" ".join(PHONES[(start + 3 * j) % len(PHONES)] for j in range(rng.randint(3, 10))))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, kenlm_tools: None) -> KenLM:
    tmp = tmp_path_factory.mktemp("lm")
    return KenLM(build_lm(_corpus(tmp / "text.txt"), tmp / "phones", order=3))


def test_scores_are_finite_and_prefer_in_distribution(model: KenLM) -> None:
    assert model.order == 3
    good = [PHONES[(3 * j) % len(PHONES)] for j in range(6)]
    scrambled = [good[i] for i in (0, 2, 4, 1, 5, 3)]
    assert math.isfinite(model.score(good)) and math.isfinite(model.score(scrambled))
    assert model.score(good) > model.score(scrambled) + 1.0
    assert model.score(good, bos=False, eos=False) != model.score(good)
    assert "AA" in model and "ZZ" not in model


def test_perplexity_counts_end_of_sentence(model: KenLM) -> None:
    sents = [["AA", "D", "G"], ["B", "EH", "AA", "D"]]
    total = model.score(sents[0]) + model.score(sents[1])
    assert model.perplexity(sents) == pytest.approx(10 ** (-total / (3 + 4 + 2)))
    with pytest.raises(ValueError, match="empty list"):
        model.perplexity([])


def test_build_is_cached_and_atomic(tmp_path: Path, kenlm_tools: None) -> None:
    text = _corpus(tmp_path / "text.txt", n=50)
    binary = build_lm(text, tmp_path / "out" / "lm", order=2)
    assert binary == tmp_path / "out" / "lm.bin" and (tmp_path / "out" / "lm.arpa").is_file()
    assert not [p for p in binary.parent.iterdir() if p.name.startswith(".")]
    mtime = binary.stat().st_mtime_ns
    assert build_lm(text, tmp_path / "out" / "lm", order=2) == binary
    assert binary.stat().st_mtime_ns == mtime
    # a newer text triggers a rebuild
    os.utime(text, (binary.stat().st_mtime + 10, binary.stat().st_mtime + 10))
    build_lm(text, tmp_path / "out" / "lm", order=2)
    assert binary.stat().st_mtime_ns != mtime


def test_empty_text_names_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.txt"):
        build_lm(empty, tmp_path / "lm", order=3)
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        build_lm(tmp_path / "missing.txt", tmp_path / "lm", order=3)


def test_failing_lmplz_reports_stderr(tmp_path: Path, kenlm_tools: None) -> None:
    text = _corpus(tmp_path / "text.txt", n=20)
    with pytest.raises(RuntimeError, match="lmplz"):
        build_lm(text, tmp_path / "lm", order=3, memory="not-a-size")
    assert not (tmp_path / "lm.bin").exists() and not (tmp_path / "lm.arpa").exists()


def test_missing_tool_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"lmplz.*scripts/setup\.sh"):
        find_kenlm_tool("lmplz")
    text = _corpus(tmp_path / "text.txt", n=5)
    with pytest.raises(RuntimeError, match="not found"):
        build_lm(text, tmp_path / "lm", order=2)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.bin"):
        KenLM(tmp_path / "nope.bin")
