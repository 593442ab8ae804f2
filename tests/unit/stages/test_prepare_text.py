from __future__ import annotations

import json
from pathlib import Path

import pytest

from unsup_asr.cli import load_config
from unsup_asr.data.manifest import Utterance, write_manifest
from unsup_asr.paths import RunPaths
from unsup_asr.stages import prepare_text

SUBJECTS = ["the cat", "a dog", "my sister", "the old man", "she", "our teacher"]
VERBS = ["sat on", "ran to", "looked at", "walked past", "painted"]
OBJECTS = ["the mat", "the park", "a red house", "the river", "his garden"]
SENTENCES = [f"{s} {v} {o}" for s in SUBJECTS for v in VERBS for o in OBJECTS]  # 150 distinct


def _corpus(paths: RunPaths, test_text: str) -> None:
    for split in ("train", "valid", "test"):
        utt = Utterance(id=f"{split}1", audio="x.wav", sample_rate=16000, num_samples=16000, text=test_text)
        write_manifest(paths.manifest(split), [utt])


def test_prepare_text_builds_inventory_and_lm(tmp_path: Path) -> None:
    cfg = load_config([f"out={tmp_path}", "text.sil_prob=0.5", "text.lm_order=3", "text.decode_lm_order=0"])
    paths = RunPaths(tmp_path)
    _corpus(paths, "The cat sat on the mat.")
    paths.unpaired_text.write_text("\n".join(SENTENCES + SENTENCES[:10]) + "\n")
    out = prepare_text.run(cfg)
    vocab = (out / "vocab.txt").read_text().split()
    assert vocab[-1] == "<SIL>" and len(vocab) > 10
    lines = (out / "phones.txt").read_text().splitlines()
    # 10 duplicates removed, and the one sentence that is also a test transcript.
    assert len(lines) == 149 and all(line.startswith("<SIL>") and line.endswith("<SIL>") for line in lines)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["duplicates_removed"] == 10 and stats["removed_overlapping_evaluation_transcripts"] == 1
    assert "<SIL>" not in (out / "phones.nosil.txt").read_text()
    assert prepare_text.lm_path(out, 3).is_file()
    assert prepare_text.word_lm_path(out, 4).is_file() and (out / "lexicon.lst").is_file()
    mtime = (out / "phones.txt").stat().st_mtime_ns
    prepare_text.run(cfg)  # cached
    assert (out / "phones.txt").stat().st_mtime_ns == mtime


def test_prepare_text_arpabet_lexicon(tmp_path: Path) -> None:
    cfg = load_config([f"out={tmp_path}", "text.phone_set=arpabet", "text.lm_order=3", "text.decode_lm_order=3"])
    paths = RunPaths(tmp_path)
    _corpus(paths, "nothing in common")
    text = tmp_path / "lm.txt.gz"
    import gzip

    with gzip.open(text, "wt", encoding="utf-8") as f:
        f.write("\n".join(SENTENCES) + "\n")
    cfg.text.path = str(text)
    out = prepare_text.run(cfg)
    vocab = set((out / "vocab.txt").read_text().split())
    assert {"k", "ae", "t", "dh", "<SIL>"} <= vocab and not any(p.upper() == p and p != "<SIL>" for p in vocab)
    lexicon = dict(line.split("\t") for line in (out / "lexicon.lst").read_text().splitlines())
    assert lexicon["CAT"] == "k ae t"
    assert (out / "words.txt").read_text().splitlines()[0] == "THE CAT SAT ON THE MAT"


def test_prepare_text_phone_lines_from_a_split(tmp_path: Path) -> None:
    cfg = load_config([f"out={tmp_path}", "text.kind=phones", "text.from_split=train", "text.word_lm_order=0",
                       "text.lm_order=2", "text.decode_lm_order=0", "text.min_phone_count=1"])
    paths = RunPaths(tmp_path)
    utt = Utterance(id="t1", audio="x.wav", sample_rate=16000, num_samples=16000, phones=["k", "ae", "t"])
    for split in ("train", "valid", "test"):
        write_manifest(paths.manifest(split), [utt])
    out = prepare_text.run(cfg)
    assert (out / "phones.nosil.txt").read_text().split() == ["k", "ae", "t"]
    assert not (out / "lexicon.lst").exists()


def test_prepare_text_errors(tmp_path: Path) -> None:
    cfg = load_config([f"out={tmp_path}"])
    with pytest.raises(FileNotFoundError, match="prepare_data"):
        prepare_text.run(cfg)
    paths = RunPaths(tmp_path)
    _corpus(paths, "x")
    paths.unpaired_text.write_text("\n \n")
    with pytest.raises(ValueError, match=r"unpaired\.txt is empty"):
        prepare_text.run(cfg)
    with pytest.raises(ValueError, match="word_lm_order"):
        load_config([f"out={tmp_path}", "text.kind=phones"]).text.validate()
