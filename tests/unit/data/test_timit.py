"""TIMIT preparation: phone folding, both layouts, SPHERE audio, standard split sizes on a
full-shape fake tree, errors, and (integration) the real TIMIT sample in ../shared/data."""

from __future__ import annotations

import io
import itertools
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from unsup_asr.data.timit import (
    CORE_TEST_SPEAKERS,
    DEV_SPEAKERS,
    PHONES_61,
    STANDARD_SIZES,
    TimitConfig,
    fold_alignment,
    fold_phone,
    phone_inventory,
    prepare_timit,
    reference_phones,
)

N = 160
"""Samples per fake utterance (10 ms at 16 kHz)."""
PHN = "0 40 h#\n40 60 bcl\n60 80 b\n80 100 q\n100 120 iy\n120 140 pau\n140 160 h#\n"
"""A fake .PHN covering N samples: folds to sil b iy sil (39 set)."""


def _sphere(samples: np.ndarray) -> bytes:
    """A NIST SPHERE file as TIMIT ships it: 1024-byte ASCII header, little-endian int16."""
    head = (
        "NIST_1A\n   1024\ndatabase_id -s5 TIMIT\nchannel_count -i 1\n"
        f"sample_count -i {len(samples)}\nsample_rate -i 16000\nsample_n_bytes -i 2\n"
        "sample_byte_format -s2 01\nsample_sig_bits -i 16\nend_head\n"
    ).encode()
    return head.ljust(1024, b" ") + samples.astype("<i2").tobytes()


def _riff(n: int = N) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, 0.1 * np.sin(np.arange(n) / 3.0), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _write_utt(spk_dir: Path, utt: str, audio: bytes, *, upper: bool, phn: str | None = PHN, text: str = "") -> None:
    spk_dir.mkdir(parents=True, exist_ok=True)

    def name(ext: str) -> str:
        return f"{utt}.{ext}".upper() if upper else f"{utt}.{ext}"

    (spk_dir / name("wav")).write_bytes(audio)
    if phn is not None:
        (spk_dir / name("phn")).write_text(phn)
    (spk_dir / name("txt")).write_text(f"0 {N} {text or 'Sentence ' + utt + '.'}\n")
    (spk_dir / name("wrd")).write_text("40 120 word\n")


def _speaker_utts(k: int) -> list[str]:
    """TIMIT's shape: 2 SA, 3 SI (unique), 5 SX (each SX prompt read by 7 of the 630 speakers)."""
    si = [f"si{3 * k + j + 1000}" for j in range(3)]
    return ["sa1", "sa2", *si] + [f"sx{(5 * k + j) % 450 + 3}" for j in range(5)]


@pytest.fixture(scope="module")
def full_timit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full-shape LDC tree: 462 TRAIN speakers and the 50 dev and 24 core-test TEST speakers with 10
    utterances each (incl. SA), plus the other 94 TEST speakers with one each. Every .WAV (160
    samples) and .PHN is a hard link to one file, to keep this fast."""
    base = tmp_path_factory.mktemp("timit")
    wav, phn = base / "utt.wav", base / "utt.phn"
    wav.write_bytes(_riff())
    phn.write_text(PHN)
    root = base / "TIMIT"
    named = sorted(DEV_SPEAKERS | CORE_TEST_SPEAKERS)
    others = [f"{'fm'[i % 2]}{i:03d}t" for i in range(168 - len(named))]
    train_spk = [f"{'fm'[i % 2]}{i:03d}r" for i in range(462)]
    speakers = [("TRAIN", s) for s in train_spk] + [("TEST", s) for s in named + others]
    for k, (set_name, spk) in enumerate(speakers):
        spk_dir = root / set_name / f"DR{k % 8 + 1}" / spk.upper()
        spk_dir.mkdir(parents=True)
        for utt in _speaker_utts(k)[: 1 if spk in others else None]:
            os.link(wav, spk_dir / f"{utt.upper()}.WAV")
            os.link(phn, spk_dir / f"{utt.upper()}.PHN")
    return root


def test_phone_sets() -> None:
    assert len(PHONES_61) == 61
    assert len(phone_inventory("61")) == 61 and len(phone_inventory("48")) == 48
    inv39 = phone_inventory("39")
    assert len(inv39) == 39 and "sil" in inv39
    assert fold_phone("q", "39") is None and fold_phone("q", "61") == "q"
    for p, p48, p39 in [
        ("bcl", "vcl", "sil"),
        ("kcl", "cl", "sil"),
        ("h#", "sil", "sil"),
        ("epi", "epi", "sil"),
        ("ao", "ao", "aa"),
        ("ax-h", "ax", "ah"),
        ("zh", "zh", "sh"),
        ("hv", "hh", "hh"),
        ("en", "en", "n"),
        ("axr", "er", "er"),
        ("ux", "uw", "uw"),
        ("nx", "n", "n"),
    ]:
        assert (fold_phone(p, "48"), fold_phone(p, "39")) == (p48, p39)
    with pytest.raises(ValueError, match="not a TIMIT phone"):
        fold_phone("xx", "39")


def test_fold_alignment_q_and_repeats() -> None:
    rows = [(0, 10, "q"), (10, 20, "ix"), (20, 30, "q"), (30, 40, "pau"), (40, 50, "bcl"), (50, 60, "b")]
    assert fold_alignment(rows, "39") == [(0, 30, "ih"), (30, 50, "sil"), (50, 60, "b")]
    assert fold_alignment(rows, "39", merge_repeats=False) == [
        (0, 30, "ih"),
        (30, 40, "sil"),
        (40, 50, "sil"),
        (50, 60, "b"),
    ]
    assert fold_alignment(rows, "48")[1:] == [(30, 40, "sil"), (40, 50, "vcl"), (50, 60, "b")]
    assert fold_alignment(rows, "61") == rows
    assert reference_phones(rows) == ["ih", "b"]


def test_ldc_layout_sphere_upper_case(tmp_path: Path) -> None:
    sphere = _sphere((np.sin(np.arange(N) / 3.0) * 1000).astype(np.int16))
    _write_utt(tmp_path / "TRAIN" / "DR1" / "FCJF0", "sa1", sphere, upper=True)
    _write_utt(tmp_path / "TRAIN" / "DR1" / "FCJF0", "si648", sphere, upper=True, text="A fine day.")
    _write_utt(tmp_path / "TEST" / "DR1" / "FAKS0", "sx13", sphere, upper=True)
    splits = prepare_timit(TimitConfig(root=str(tmp_path)))
    assert {k: [u.id for u in v] for k, v in splits.items()} == {
        "train": ["fcjf0_si648"],
        "valid": ["faks0_sx13"],
        "test": [],
    }
    u = splits["train"][0]
    assert u.text == "A fine day." and u.speaker == "fcjf0"
    assert u.extra == {"timit_set": "train", "dialect": "dr1", "sentence": "si648"}
    assert u.phones == ["b", "iy"]
    sr = 16000
    # q (80-100) is deleted and lends its time to b; bcl (40-60) folds into the leading sil
    assert u.alignment == [
        (0.0, 60 / sr, "sil"),
        (60 / sr, 100 / sr, "b"),
        (100 / sr, 120 / sr, "iy"),
        (120 / sr, 160 / sr, "sil"),
    ]
    keep = prepare_timit(TimitConfig(root=str(tmp_path), keep_sa=True, alignment_phones="61"))
    assert [u.id for u in keep["train"]] == ["fcjf0_sa1", "fcjf0_si648"]
    assert [p for _, _, p in keep["train"][0].alignment or []] == ["h#", "bcl", "b", "q", "iy", "pau", "h#"]


def test_ldc_layout_lower_case_one_level_down(tmp_path: Path) -> None:
    _write_utt(tmp_path / "timit" / "test" / "dr2" / "mdab0", "si1039", _riff(), upper=False)
    splits = prepare_timit(TimitConfig(root=str(tmp_path)))
    assert [u.id for u in splits["test"]] == ["mdab0_si1039"] and splits["train"] == []


def test_flat_sample_layout_and_speakers_mode(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for spk in ("fvmh0", "mcpm0", "mdab0"):
        for utt in ("sa1", "sa2", "si100", "sx10"):
            _write_utt(tmp_path / f"dr1-{spk}", utt, _riff(), upper=False)
    (tmp_path / "spkrinfo.txt").write_text(
        "; comment\nVMH0  F  1  TRN  03/11/86\nCPM0  M  1  TRN  01/30/86\nDAB0  M  1  TST  01/30/86\n"
    )
    with caplog.at_level(logging.WARNING, logger="unsup_asr.data.timit"):
        matched = prepare_timit(TimitConfig(root=str(tmp_path)))
    assert {k: len(v) for k, v in matched.items()} == {"train": 4, "valid": 0, "test": 2}
    assert "valid are empty" in caplog.text and "split_mode='speakers'" in caplog.text
    by_speaker = prepare_timit(TimitConfig(root=str(tmp_path), split_mode="speakers"))
    assert {k: len(v) for k, v in by_speaker.items()} == {"train": 0, "valid": 0, "test": 6}
    half = prepare_timit(
        TimitConfig(root=str(tmp_path), split_mode="speakers", keep_sa=True, speaker_split={"a": 0.34, "b": 0.66})
    )
    assert sorted(len(v) for v in half.values()) == [4, 8]


def test_missing_phn_and_malformed_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spk = tmp_path / "TRAIN" / "DR1" / "FCJF0"
    _write_utt(spk, "si1", _riff(), upper=True)
    _write_utt(spk, "si2", _riff(), upper=True, phn=None)
    with pytest.raises(ValueError, match=r"SI2\.WAV has no \.PHN"):
        prepare_timit(TimitConfig(root=str(tmp_path)))
    with caplog.at_level(logging.WARNING, logger="unsup_asr.data.timit"):
        out = prepare_timit(TimitConfig(root=str(tmp_path), skip_unlabelled=True))
    assert [u.id for u in out["train"]] == ["fcjf0_si1"] and "skipped 1 audio" in caplog.text
    (spk / "SI2.PHN").write_text("0 40 h#\n40 x sh\n")
    with pytest.raises(ValueError, match=r"SI2\.PHN:2: expected"):
        prepare_timit(TimitConfig(root=str(tmp_path)))
    (spk / "SI2.PHN").write_text("0 40 h#\n40 80 zz\n")
    with pytest.raises(ValueError, match=r"SI2\.PHN:2: unknown TIMIT phone 'zz'"):
        prepare_timit(TimitConfig(root=str(tmp_path)))
    (spk / "SI2.PHN").write_text("0 40 h#\n40 9000 sh\n")
    with pytest.raises(ValueError, match=r"phones end at sample 9000"):
        prepare_timit(TimitConfig(root=str(tmp_path)))
    (spk / "SI2.PHN").write_text(PHN)
    (spk / "SI2.TXT").write_bytes(b"0 160 caf\xe9 au lait.\n")
    with pytest.raises(ValueError, match=r"SI2\.TXT:1: not valid UTF-8"):
        prepare_timit(TimitConfig(root=str(tmp_path)))


def test_no_timit_here(tmp_path: Path) -> None:
    (tmp_path / "something").mkdir()
    with pytest.raises(ValueError, match="neither TRAIN/TEST"):
        prepare_timit(TimitConfig(root=str(tmp_path)))
    (tmp_path / "TRAIN").mkdir()
    with pytest.raises(ValueError, match="no TIMIT utterances"):
        prepare_timit(TimitConfig(root=str(tmp_path)))
    with pytest.raises(FileNotFoundError):
        prepare_timit(TimitConfig(root=str(tmp_path / "absent")))


@pytest.mark.parametrize(
    "field, value",
    [
        ("split_mode", "random"),
        ("alignment_phones", "60"),
        ("unmatched_text_fraction", 1.0),
        ("speaker_split", {"test": 0.5}),
        ("root", ""),
    ],
)
def test_config_validation(field: str, value: object) -> None:
    cfg = TimitConfig(root="x")
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=field):
        cfg.validate()


def test_full_tree_matched_sizes(full_timit: Path) -> None:
    splits = prepare_timit(TimitConfig(root=str(full_timit.parent)))
    assert {k: len(v) for k, v in splits.items()} == STANDARD_SIZES == {"train": 3696, "valid": 400, "test": 192}
    assert {u.speaker for u in splits["valid"]} == DEV_SPEAKERS
    assert {u.speaker for u in splits["test"]} == CORE_TEST_SPEAKERS
    assert len({u.speaker for u in splits["train"]}) == 462
    assert not any(u.extra["sentence"].startswith("sa") for us in splits.values() for u in us)
    assert all(u.alignment and u.phones == ["b", "iy"] for u in splits["test"])


def test_full_tree_unmatched_disjoint(full_timit: Path) -> None:
    cfg = TimitConfig(root=str(full_timit), split_mode="unmatched", seed=3)
    splits = prepare_timit(cfg)
    audio, text = splits["train"], splits["train_text"]
    a_spk, t_spk = {u.speaker for u in audio}, {u.speaker for u in text}
    assert len(a_spk) == 231 and not a_spk & t_spk and len(audio) == 231 * 8
    assert not {u.extra["sentence"] for u in audio} & {u.extra["sentence"] for u in text}
    assert 0 < len(text) < 231 * 8
    assert (len(splits["valid"]), len(splits["test"])) == (400, 192)
    other = prepare_timit(
        TimitConfig(root=str(full_timit), split_mode="unmatched", seed=4, drop_shared_sentences=False)
    )
    assert {u.speaker for u in other["train"]} != a_spk and len(other["train_text"]) == 231 * 8


@pytest.mark.integration
def test_timit_sample(shared_data: Path) -> None:
    root = shared_data / "timit_sample"
    matched = prepare_timit(TimitConfig(root=str(root)))
    assert {k: len(v) for k, v in matched.items()} == {"train": 128, "valid": 0, "test": 0}
    splits = prepare_timit(TimitConfig(root=str(root), split_mode="speakers", keep_sa=True))
    utts = splits["test"]
    assert len(utts) == 160 and len({u.speaker for u in utts}) == 16
    non_sil = set(phone_inventory("39")) - {"sil"}
    for u in utts:
        ali = u.alignment or []
        assert ali[0][0] == 0.0 and ali[-1][1] <= u.duration_s + 1e-9
        assert all(s < e for s, e, _ in ali) and all(a[1] == b[0] for a, b in itertools.pairwise(ali))
        assert u.phones and set(u.phones) <= non_sil and u.text
    sa1 = next(u for u in utts if u.id == "fvmh0_sa1")
    assert sa1.text == "She had your dark suit in greasy wash water all year."
    assert (sa1.phones or [])[:4] == ["sh", "iy", "hh", "ae"]
