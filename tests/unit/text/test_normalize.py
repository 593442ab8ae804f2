"""Tests for English text normalisation, de-duplication, overlap removal and reading text files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from unsup_asr.text.normalize import (
    NormalizeConfig,
    deduplicate,
    normalize_lines,
    normalize_sentence,
    read_text_lines,
    remove_overlap,
    spell_integer,
    spell_ordinal,
    spell_year,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Lord, but I'm glad to see you again, Phil.", "LORD BUT I'M GLAD TO SEE YOU AGAIN PHIL"),
        ("  Hello,world!\tHow   are you? ", "HELLO WORLD HOW ARE YOU"),
        ("Twenty-one years—no more.", "TWENTY ONE YEARS NO MORE"),
        ("The U.S. and/or Canada", "THE U S AND OR CANADA"),
        ("My sister’s café, naïve Æsop", "MY SISTER'S CAFE NAIVE AESOP"),
        ("'Tis the dogs' bone, he said 'bout it", "TIS THE DOGS BONE HE SAID BOUT IT"),
        ("rock 'n' roll", "ROCK N ROLL"),
        ("ALREADY NORMAL TEXT ISN'T CHANGED", "ALREADY NORMAL TEXT ISN'T CHANGED"),
    ],
)
def test_normal_form(raw: str, expected: str) -> None:
    assert normalize_sentence(raw) == expected


def test_spelling_numbers() -> None:
    assert spell_integer(0) == "ZERO"
    assert spell_integer(105) == "ONE HUNDRED FIVE"
    assert spell_integer(2_019_999) == "TWO MILLION NINETEEN THOUSAND NINE HUNDRED NINETY NINE"
    assert spell_year(1850) == "EIGHTEEN FIFTY"
    assert spell_year(1905) == "NINETEEN OH FIVE"
    assert spell_year(1900) == "NINETEEN HUNDRED"
    assert spell_ordinal(1) == "FIRST" and spell_ordinal(21) == "TWENTY FIRST"
    assert spell_ordinal(40) == "FORTIETH" and spell_ordinal(112) == "ONE HUNDRED TWELFTH"
    with pytest.raises(ValueError, match=r"0\.\.999999999"):
        spell_integer(10**9)
    with pytest.raises(ValueError, match="four-digit"):
        spell_year(99)


def test_numbers_in_sentences() -> None:
    assert normalize_sentence("In 1850 there were 1,200 men.") == (
        "IN EIGHTEEN FIFTY THERE WERE ONE THOUSAND TWO HUNDRED MEN"
    )
    assert normalize_sentence("In 2005, on the 3rd of May (2019)") == (
        "IN TWO THOUSAND FIVE ON THE THIRD OF MAY TWENTY NINETEEN"
    )
    assert normalize_sentence("He was 42.") == "HE WAS FORTY TWO"
    for guess in ("It costs $5", "3.5 miles", "at 10:30", "the 1990s", "size A4", "50% off"):
        assert normalize_sentence(guess) is None, guess
    assert normalize_sentence("He was 42.", NormalizeConfig(numbers="drop")) is None


def test_dropped_sentences_are_counted() -> None:
    lines = ["Good morning!", "Ελλάδα is Greece", "It is 3.5 km", "...", "One more"]
    kept, stats = normalize_lines(lines)
    assert kept == ["GOOD MORNING", "ONE MORE"]
    assert stats.kept == 2 and stats.dropped == {"foreign": 1, "digits": 1, "short": 1}
    kept, stats = normalize_lines(lines, NormalizeConfig(min_words=3))
    assert kept == [] and stats.dropped["short"] == 3


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="numbers"):
        NormalizeConfig(numbers="words").validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_words"):
        normalize_sentence("hi", NormalizeConfig(min_words=0))


def test_deduplicate_keeps_first_occurrence_order() -> None:
    assert deduplicate(["B A", "A", "B A", "C", "A"]) == ["B A", "A", "C"]


def test_remove_overlap_after_normalisation() -> None:
    text = ["THE CAT SAT", "A DOG RAN", "SO THE OLD MAN WALKED SLOWLY HOME THAT NIGHT", "THE OLD MAN", "KEEP ME"]
    evals = ["The cat sat.", "the old man walked slowly home", "the old man"]
    kept, removed = remove_overlap(text, evals)
    assert kept == ["A DOG RAN", "KEEP ME"] and removed == 3
    kept, removed = remove_overlap(text, evals, contained_min_words=None)
    assert "SO THE OLD MAN WALKED SLOWLY HOME THAT NIGHT" in kept and removed == 2
    kept, removed = remove_overlap(text, evals, contained_min_words=7)
    assert removed == 2
    with pytest.raises(ValueError, match="contained_min_words"):
        remove_overlap(text, evals, contained_min_words=0)


def test_read_text_lines_plain_gz_and_bom(tmp_path: Path) -> None:
    plain = tmp_path / "a.txt"
    plain.write_bytes("\ufeffFIRST LINE\r\n\n  \nSECOND\n".encode())
    assert read_text_lines(plain) == ["FIRST LINE", "SECOND"]
    assert read_text_lines(plain, skip_blank=False) == ["FIRST LINE", "", "  ", "SECOND"]
    packed = tmp_path / "a.txt.gz"
    with gzip.open(packed, "wb") as f:
        f.write("ÉTÉ\nB\n".encode())
    assert read_text_lines(packed) == ["ÉTÉ", "B"]


@pytest.mark.parametrize("name", ["bad.txt", "bad.txt.gz"])
def test_invalid_utf8_names_file_and_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    data = b"GOOD\nALSO GOOD\ncaf\xe9 latin-1\n"
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(ValueError, match=rf"{name}:3: not valid UTF-8 \(byte 0xe9 at column 4\)"):
        read_text_lines(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_text_lines(tmp_path / "missing.txt")
