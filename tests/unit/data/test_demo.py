"""Tests for the demo corpus builder, on a tiny corpus (10 utterances, 50 unpaired sentences)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import soundfile as sf

from unsup_asr.data.demo import DEFAULT_TEXT_DIR, SPLITS, DemoCorpus, DemoCorpusConfig, build_demo_corpus
from unsup_asr.data.manifest import read_manifest
from unsup_asr.io import is_done


def _tiny(**overrides: object) -> DemoCorpusConfig:
    cfg = DemoCorpusConfig(num_train=6, num_valid=2, num_test=2, num_unpaired_text=50)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> DemoCorpus:
    return build_demo_corpus(_tiny(), tmp_path_factory.mktemp("demo"), num_workers=1)


def test_manifests_audio_and_alignment(corpus: DemoCorpus) -> None:
    assert is_done(corpus.root)
    sizes = {"train": 6, "valid": 2, "test": 2}
    for split in SPLITS:
        utts = read_manifest(corpus.manifests[split])
        assert len(utts) == sizes[split]
        for u in utts:
            info = sf.info(u.audio)
            assert (info.samplerate, info.frames, info.channels) == (16000, u.num_samples, 1)
            assert info.subtype == "PCM_16"
            assert u.phones and u.alignment and u.text
            assert [p for _, _, p in u.alignment] == u.phones
            prev = 0.0
            for start, end, _ in u.alignment:
                assert prev <= start < end <= u.duration_s + 1e-6
                prev = end
            assert u.extra.keys() == {"rate_wpm", "pitch"}
            assert 150 <= int(u.extra["rate_wpm"]) <= 190 and 35 <= int(u.extra["pitch"]) <= 65
    train = read_manifest(corpus.manifests["train"])
    assert {u.speaker for u in train} == set(DemoCorpusConfig().voices)
    assert train[0].audio.startswith(str(corpus.root))


def test_default_config_is_multi_voice() -> None:
    cfg = DemoCorpusConfig()
    cfg.validate()
    assert len(set(cfg.voices)) >= 4
    assert (DEFAULT_TEXT_DIR / "NOTICE.md").is_file()


def test_splits_are_disjoint_by_sentence(corpus: DemoCorpus) -> None:
    sets = {split: {u.text for u in read_manifest(corpus.manifests[split])} for split in SPLITS}
    unpaired = corpus.unpaired_text.read_text(encoding="utf-8").splitlines()
    assert len(unpaired) == len(set(unpaired)) == 50
    sets["unpaired"] = set(unpaired)
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not sets[a] & sets[b], (a, b)


def test_deterministic_across_folders_and_workers(corpus: DemoCorpus, tmp_path: Path) -> None:
    again = build_demo_corpus(_tiny(), tmp_path / "again", num_workers=2)
    for split in SPLITS:
        assert again.manifests[split].read_bytes() == corpus.manifests[split].read_bytes()
    assert again.unpaired_text.read_bytes() == corpus.unpaired_text.read_bytes()
    name = "train_00003.wav"
    assert (again.root / "wav" / name).read_bytes() == (corpus.root / "wav" / name).read_bytes()
    other_seed = build_demo_corpus(_tiny(seed=1), tmp_path / "seed1", num_workers=1)
    assert other_seed.manifests["train"].read_bytes() != corpus.manifests["train"].read_bytes()


def test_cache_reuse_mismatch_and_rebuild(tmp_path: Path) -> None:
    out = tmp_path / "c"
    cfg = _tiny(num_train=2, num_valid=1, num_test=1, num_unpaired_text=5)
    built = build_demo_corpus(cfg, out, num_workers=1)
    stamps = {p: p.stat().st_mtime_ns for p in [*built.manifests.values(), built.unpaired_text, out / ".done"]}
    build_demo_corpus(cfg, out, num_workers=1)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    with pytest.raises(ValueError, match="delete that folder"):
        build_demo_corpus(_tiny(num_train=2, num_valid=1, num_test=1, num_unpaired_text=5, seed=7), out)

    # an unfinished build (no .done) is rebuilt from scratch: stale audio disappears
    (out / ".done").unlink()
    stale = out / "wav" / "stale.wav"
    stale.write_bytes(b"x")
    build_demo_corpus(cfg, out, num_workers=1)
    assert is_done(out) and not stale.exists()
    assert sorted(os.listdir(out / "wav")) == [
        "test_00000.wav",
        "train_00000.wav",
        "train_00001.wav",
        "valid_00000.wav",
    ]


def test_text_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_demo_corpus(_tiny(text_dir=str(tmp_path / "missing")), tmp_path / "o1")
    (tmp_path / "few").mkdir()
    (tmp_path / "few" / "s.txt").write_text("one two three four\nfive six seven eight\nONE TWO  THREE FOUR\n")
    with pytest.raises(ValueError, match=r"needs 60 distinct sentences .* has 2"):
        build_demo_corpus(_tiny(text_dir=str(tmp_path / "few")), tmp_path / "o2")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("voices", ["en-us", "en-us"], "duplicates"),
        ("rate_range", [190, 150], "rate_range"),
        ("pitch_range", [0, 120], "pitch_range"),
        ("max_words", 2, "max_words"),
        ("num_test", 0, "num_test"),
        ("sample_rate", 100, "sample_rate"),
    ],
)
def test_validate(field: str, value: object, match: str) -> None:
    cfg = _tiny()
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=match):
        cfg.validate()
