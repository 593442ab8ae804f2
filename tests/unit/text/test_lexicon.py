"""Tests for lexicons: CMUdict/espeak-ng pronunciations, the IPA->ARPAbet table, TIMIT folding, I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from unsup_asr.text import lexicon as lexicon_mod
from unsup_asr.text.lexicon import (
    ARPABET_39,
    IPA_TO_ARPABET,
    TIMIT_39,
    Lexicon,
    LexiconConfig,
    arpabet_to_timit39,
    build_lexicon,
    cmudict_pronunciations,
    ipa_to_arpabet,
)
from unsup_asr.text.phonemize import phonemize_words

# One word per phone espeak-ng en-us emits (found by phonemising all of CMUdict), rare ones included.
COVERAGE_WORDS = (
    "aachen aaron aback abacha abalkin abalone abandoning abash abated abbey abbreviate abdul abduct abductor abel "
    "abhor abide abject abkhazia abloom abner abort abroad absinthe abuse accost achenbach acquaint acquire adair "
    "adhere adjoin adora allure alliance allusion although arruda argyll aten cause course croissant denouement em "
    "jalapeno llano round tolkien wii aardvark aberford aberg ab button"
).split()


def test_ipa_table_targets_are_arpabet_39() -> None:
    assert len(ARPABET_39) == 39 and len(TIMIT_39) == 39
    targets = {p for mapped in IPA_TO_ARPABET.values() for p in mapped}
    assert targets <= set(ARPABET_39)
    assert set(ARPABET_39) - targets == set(), "every ARPAbet phone is reachable from espeak-ng"


def test_ipa_table_covers_every_espeak_en_us_phone() -> None:
    hand_picked = {p for words in phonemize_words(list(COVERAGE_WORDS)) for w in words for p in w}
    assert hand_picked <= set(IPA_TO_ARPABET), sorted(hand_picked - set(IPA_TO_ARPABET))
    assert len(hand_picked) >= 60  # the coverage list still reaches the rare phones
    sample = [w for w in lexicon_mod._cmudict() if w.replace("'", "").isalpha()][::25]
    emitted = {p for words in phonemize_words(sample) for w in words for p in w}
    assert emitted <= set(IPA_TO_ARPABET), sorted(emitted - set(IPA_TO_ARPABET))


def test_ipa_to_arpabet_maps_and_resolves_flaps() -> None:
    assert ipa_to_arpabet(["k", "æ", "t"], "cat") == ["k", "ae", "t"]
    assert ipa_to_arpabet(["b", "ʌ", "ʔ", "n̩"], "button") == ["b", "ah", "t", "ah", "n"]
    assert ipa_to_arpabet(["w", "ɔː", "ɾ", "ɚ"], "water") == ["w", "ao", "t", "er"]
    assert ipa_to_arpabet(["n", "iː", "ɾ", "ᵻ", "d"], "needed") == ["n", "iy", "d", "ih", "d"]
    with pytest.raises(ValueError, match=r"'ZORK'.*IPA phone 'ʁ' has no ARPAbet mapping"):
        ipa_to_arpabet(["z", "ʁ"], "ZORK")


def test_timit_folding() -> None:
    assert arpabet_to_timit39("ao") == "aa" and arpabet_to_timit39("zh") == "sh"
    assert arpabet_to_timit39("<SIL>") == "sil"
    others = [p for p in ARPABET_39 if p not in ("ao", "zh")]
    assert [arpabet_to_timit39(p) for p in others] == others
    assert {arpabet_to_timit39(p) for p in ARPABET_39} | {"dx", "sil"} == set(TIMIT_39)
    with pytest.raises(ValueError, match="not an ARPAbet-39 phone"):
        arpabet_to_timit39("AA1")


def test_cmudict_pronunciations_drop_stress() -> None:
    assert cmudict_pronunciations("TOMATO") == [["t", "ah", "m", "ey", "t", "ow"], ["t", "ah", "m", "aa", "t", "ow"]]
    assert cmudict_pronunciations("SISTER'S") == [["s", "ih", "s", "t", "er", "z"]]
    assert cmudict_pronunciations("FLOOBLEWORTZ") == []


def test_build_arpabet_lexicon_with_oov_and_skipped_words() -> None:
    lex, report = build_lexicon(["THE", "CAT", "READ", "FLOOBLEWORTZ", "'", "CAT"], LexiconConfig(max_pronunciations=2))
    assert list(lex) == ["THE", "CAT", "READ", "FLOOBLEWORTZ"]
    assert lex["CAT"] == [["k", "ae", "t"]]
    assert lex["READ"] == [["r", "eh", "d"], ["r", "iy", "d"]]
    assert lex.phone_set() <= set(ARPABET_39)
    assert report.num_requested == 5 and report.from_cmudict == 3 and report.from_espeak == 1
    assert report.skipped == ["'"]


def test_unmapped_espeak_phone_is_an_error_naming_the_word(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(IPA_TO_ARPABET, "k")
    with pytest.raises(ValueError, match=r"(?s)1 words have unmapped IPA phones.*'FLOOBLEKORTZ'.*'k'"):
        build_lexicon(["CAT", "FLOOBLEKORTZ"])


def test_ipa_lexicon_uses_pronunciations_in_context() -> None:
    context = ["A CAT SAT ON A MAT", "THE CAT"]
    lex, report = build_lexicon(["A", "CAT", "DOG"], LexiconConfig(mode="ipa"), context=context)
    assert lex["A"] == [["ɐ"]]  # the weak form of running text, not the citation form eɪ
    assert lex["CAT"] == [["k", "æ", "t"]]
    assert report.from_context == 2 and report.from_espeak == 1 and lex["DOG"] == [["d", "ɑː", "ɡ"]]
    alone, _ = build_lexicon(["A"], LexiconConfig(mode="ipa"))
    assert alone["A"] == [["eɪ"]]


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="mode"):
        LexiconConfig(mode="xsampa").validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs mode 'ipa'"):
        LexiconConfig(language="fr-fr").validate()
    with pytest.raises(ValueError, match="max_pronunciations"):
        build_lexicon(["A"], LexiconConfig(max_pronunciations=0))


def test_lexicon_file_round_trip(tmp_path: Path) -> None:
    lex = Lexicon({"READ": [["r", "eh", "d"], ["r", "iy", "d"]], "A": [["ah"]]})
    lex.add("A", ["ah"])  # repeated pronunciation ignored
    path = lex.write(tmp_path / "lexicon.lst")
    assert path.read_text(encoding="utf-8") == "READ\tr eh d\nREAD\tr iy d\nA\tah\n"
    back = Lexicon.read(path)
    assert list(back.items()) == list(lex.items()) and "READ" in back and len(back) == 2
    spaced = tmp_path / "spaced.lst"
    spaced.write_text("CAT k ae t\n\nDOG  d ao g\n", encoding="utf-8")
    assert Lexicon.read(spaced)["DOG"] == [["d", "ao", "g"]]


def test_lexicon_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.lst"
    bad.write_text("CAT\tk ae t\nDOG\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.lst:2: 'DOG' has no phones"):
        Lexicon.read(bad)
    with pytest.raises(FileNotFoundError, match="build_lexicon"):
        Lexicon.read(tmp_path / "missing.lst")
    with pytest.raises(ValueError, match="no whitespace"):
        Lexicon({"TWO WORDS": [["t"]]})
    with pytest.raises(ValueError, match="non-empty phones"):
        Lexicon({"EMPTY": [[]]})


def test_unmapped_ipa_phone_raises_or_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from unsup_asr.text import lexicon as lex

    table = dict(lex.IPA_TO_ARPABET)
    del table["æ"]
    monkeypatch.setattr(lex, "IPA_TO_ARPABET", table)
    word = "BLAXTAB"  # not in CMUdict: goes through espeak-ng, which says it with "æ"
    with pytest.raises(ValueError, match="BLAXTAB"):
        lex.build_lexicon([word], lex.LexiconConfig(mode="arpabet"))
    lexicon, report = lex.build_lexicon([word, "CAT"], lex.LexiconConfig(mode="arpabet", skip_unmapped=True))
    assert report.unmapped == [word] and word not in lexicon and "CAT" in lexicon
