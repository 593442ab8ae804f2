"""A run over ``data.corpus=sources``: the tiny demo audio re-read as a folder corpus with a TSV of
transcripts and as a Kaldi-style folder, ARPAbet text, word LM, lexicon decoding and WER per split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unsup_asr.cli import load_config
from unsup_asr.data.manifest import read_manifest
from unsup_asr.data.sources import SourceConfig, prepare_sources
from unsup_asr.paths import RunPaths
from unsup_asr.stages import demo, prepare_data

from .test_pipeline import TINY


@pytest.fixture(scope="module")
def audio_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny demo audio plus ``manifest.tsv`` (path, speaker, transcript) and an unpaired text file."""
    out = tmp_path_factory.mktemp("corpus")
    cfg = load_config([*TINY, f"out={out}"])
    prepare_data.run(cfg)
    paths = RunPaths(out)
    rows = ["path\tspeaker\ttranscript"]
    for split in ("train", "valid", "test"):
        for u in read_manifest(paths.manifest(split)):
            rows.append(f"{u.audio}\t{u.speaker}\t{u.text}")
    (out / "manifest.tsv").write_text("\n".join(rows) + "\n")
    (out / "text.txt").write_text(paths.unpaired_text.read_text())
    return out


def test_sources_rename_merge_and_reject_duplicates(audio_folder: Path) -> None:
    from unsup_asr.data.folder import FolderConfig
    from unsup_asr.data.splits import SplitConfig

    split = SplitConfig(fractions={"a": 0.5, "b": 0.5}, by="utterance")
    src = SourceConfig(kind="folder", folder=FolderConfig(root=".", manifest="manifest.tsv", split=split),
                       splits={"a": "train"})
    out = prepare_sources([src], str(audio_folder))
    assert list(out) == ["train"] and len(out["train"]) == 12  # half of 24, "b" left out
    assert all(Path(u.audio).is_absolute() for u in out["train"])
    with pytest.raises(ValueError, match="duplicate utterance ids"):
        prepare_sources([src, src], str(audio_folder))
    with pytest.raises(ValueError, match="kind='nope'"):
        SourceConfig(kind="nope").validate()
    with pytest.raises(ValueError, match="needs its settings"):
        SourceConfig(kind="timit").validate()


def test_sources_run_gives_per_and_wer_per_split(audio_folder: Path, tmp_path: Path) -> None:
    tsv = "{root: ., manifest: manifest.tsv, split: {fractions: {train: 0.7, valid: 0.15, test: 0.15}, by: utterance}}"
    cfg = load_config([
        *[o for o in TINY if not o.startswith("data.demo")],
        f"out={tmp_path}",
        "data.corpus=sources",
        f"data.root={audio_folder}",
        f"+data.sources=[{{kind: folder, folder: {tsv}, splits: {{train: train, valid: valid, test: test}}}}]",
        "splits.more_tests=[valid]",
        f"text.path={audio_folder / 'text.txt'}",
        "text.phone_set=arpabet",
        "text.lm_order=3",
        "text.decode_lm_order=3",
        "text.word_lm_order=3",
        "decode.lm_weights=[0.0,1.0]",
        "decode.word_scores=[0.0]",
    ])
    demo.run(cfg)
    paths = RunPaths(tmp_path)
    score = json.loads(paths.score.read_text())
    assert set(score["splits"]) == {"test", "valid"}
    for split in ("test", "valid"):
        res = score["splits"][split]
        assert {"per", "per_phone_lm", "wer"} <= set(res) and res["num_test_utterances"] > 0
        assert (paths.decode / f"{split}.wrd").is_file()
    assert score["per"] == score["splits"]["test"]["per"]
    assert "boundary_f1" not in score  # a folder corpus has no alignments
    assert "not computed" in score["ceilings_note"]
    tuning = json.loads((paths.decode / "tuning.json").read_text())
    assert len(tuning["grid"]) == 2 and "no transcripts" in tuning["rule"]
