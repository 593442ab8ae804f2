"""Silence removal: the kept <-> original time map, silero-vad regions recorded by prepare_data on
espeak speech padded with digital silence, features of the kept audio, and scoring in original time."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import resample_poly

from unsup_asr.cli import load_config
from unsup_asr.config import RunConfig
from unsup_asr.data.audio import load_audio, load_utterance
from unsup_asr.data.espeak import synthesize
from unsup_asr.data.manifest import Utterance, read_manifest
from unsup_asr.data.timemap import TimeMap
from unsup_asr.data.vad import VadConfig
from unsup_asr.features.cache import FeatureSet
from unsup_asr.features.mfcc import MfccConfig, MfccFeaturizer
from unsup_asr.paths import RunPaths
from unsup_asr.stages import extract_features, prepare_data
from unsup_asr.stages.ceilings import frame_labels
from unsup_asr.stages.score import segmentation_scores
from unsup_asr.stages.segment import SegmentSet

REGIONS = [(0.5, 1.3), (2.0, 2.8), (3.1, 3.5)]
"""Kept regions (original seconds): kept durations 0.8, 0.8, 0.4 starting at kept 0.0, 0.8, 1.6."""
LEAD_S, TRAIL_S = 0.8, 1.0
"""Digital silence added before and after each synthesized sentence."""
PAD_S = VadConfig().speech_pad_ms / 1000
"""Margin the VAD keeps around speech by default."""


def test_timemap_maps_both_ways() -> None:
    tm = TimeMap(REGIONS)
    assert tm.kept_duration_s == pytest.approx(2.0)
    kept = np.array([0.0, 0.3, 0.8, 1.0, 1.6, 1.9])
    np.testing.assert_allclose(tm.to_original(kept), [0.5, 0.8, 2.0, 2.2, 3.1, 3.4])
    np.testing.assert_allclose(tm.to_kept(tm.to_original(kept)), kept)
    inside = np.array([[0.5, 1.29], [2.0, 3.45]])  # any shape
    np.testing.assert_allclose(tm.to_original(tm.to_kept(inside)), inside)
    # removed silence maps to the junction where it was cut out; before / after: 0 / the kept duration
    np.testing.assert_allclose(tm.to_kept(np.array([0.0, 0.2, 1.3, 1.6, 2.9, 5.0])), [0, 0, 0.8, 0.8, 1.6, 2.0])
    assert tm.to_original(0.8) == 2.0 and isinstance(tm.to_original(0.8), float)
    assert tm.to_kept(1.0) == pytest.approx(0.5) and isinstance(tm.to_kept(1.0), float)
    grid = np.linspace(0, 2.0, 101)
    assert np.all(np.diff(tm.to_original(grid)) > 0)  # strictly increasing inside the kept audio


def test_timemap_cut_matches_the_map() -> None:
    tm = TimeMap(REGIONS)
    wav = np.arange(int(3.6 * 16000), dtype=np.float32)  # sample value = its original index
    kept = tm.cut(wav)
    assert kept.shape[0] == round(tm.kept_duration_s * 16000)  # type: ignore[operator]
    k = np.arange(0, kept.shape[0], 97)
    np.testing.assert_array_equal(kept[k], np.rint(tm.to_original(k / 16000) * 16000))
    with pytest.raises(ValueError, match="past the end"):
        tm.cut(wav[:50000])


def test_timemap_identity_and_bad_regions() -> None:
    tm = TimeMap(None)
    x = np.array([0.0, 1.234, 7.5])
    assert tm.identity and tm.kept_duration_s is None
    np.testing.assert_array_equal(tm.to_original(x), x)
    np.testing.assert_array_equal(tm.to_kept(x), x)
    wav = np.ones(100, np.float32)
    assert tm.cut(wav) is wav
    for bad, match in (([], "empty"), ([(1.0, 0.5)], "start < end"), ([(0.0, 1.0), (0.5, 2.0)], "overlap"),
                       ([(2.0, 3.0), (0.0, 1.0)], "unsorted")):
        with pytest.raises(ValueError, match=match):
            TimeMap(bad, where="utterance u1")


def test_manifest_round_trip_of_speech() -> None:
    utt = Utterance(id="u", audio="a.wav", sample_rate=16000, num_samples=64000, speech=[(0.25, 1.5), (2.0, 3.9375)])
    line = json.loads(utt.to_json())
    assert line["speech"] == [[0.25, 1.5], [2.0, 3.9375]]
    assert Utterance.from_dict(line) == utt
    assert "speech" not in json.loads(Utterance(id="u", audio="a.wav", sample_rate=16000, num_samples=1).to_json())


def test_perfect_kept_time_segmentation_scores_one_in_original_time() -> None:
    # gold phones inside the kept regions, original time; the silence 1.3-2.0 s and 2.8-3.1 s was removed
    alignment = [(0.5, 0.7, "a"), (0.7, 1.0, "b"), (1.0, 1.3, "c"), (2.0, 2.4, "d"), (2.4, 2.8, "e"),
                 (3.1, 3.5, "f")]
    utt = Utterance(id="u", audio="a.wav", sample_rate=16000, num_samples=56000, alignment=alignment,
                    speech=REGIONS)
    tm = TimeMap.of(utt)
    bounds = np.zeros(100, dtype=bool)  # 2.0 s of kept audio at 20 ms
    bounds[np.rint(tm.to_kept(np.array([s for s, _, _ in alignment])) / 0.02).astype(int)] = True
    segs = SegmentSet(ids=["u"], embeddings=[np.zeros((int(bounds.sum()), 2), np.float32)], boundaries=[bounds],
                      frame_shift_s=0.02)
    scores = segmentation_scores(segs, {"u": utt}, tolerance_ms=20.0)
    assert scores["boundary_harsh"]["f1"] == 1.0 and scores["boundary_lenient"]["f1"] == 1.0
    unmapped = Utterance(id="u", audio="a.wav", sample_rate=16000, num_samples=56000, alignment=alignment)
    assert segmentation_scores(segs, {"u": unmapped}, tolerance_ms=20.0)["boundary_f1"] < 0.5  # mapping matters
    # frame labels are looked up at each kept frame's original time
    index = {"<SIL>": 0, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}
    labels = frame_labels(utt, 100, 0.02, index)
    assert labels[[0, 9, 10, 24, 25, 39, 40, 59, 60, 79, 80, 99]].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]


def _vad_corpus(folder: Path) -> dict[str, list[tuple[float, float, str]]]:
    """Two espeak sentences padded with digital silence and one all-silent file; the padded alignments."""
    folder.mkdir()
    alignments = {}
    for name, text, voice in (("s1", "the cat sat on the mat", "en-us+m1"), ("s2", "a bird in the hand", "en-us+f2")):
        syn = synthesize(text, voice=voice, rate_wpm=170, pitch=50)
        speech = resample_poly(syn.wav, 320, 441).astype(np.float32)
        wav = np.concatenate([np.zeros(int(LEAD_S * 16000), np.float32), speech,
                              np.zeros(int(TRAIL_S * 16000), np.float32)])
        sf.write(folder / f"{name}.wav", wav, 16000, subtype="PCM_16")
        alignments[name] = [(s + LEAD_S, e + LEAD_S, p) for s, e, p in syn.alignment]
    sf.write(folder / "quiet.wav", np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    return alignments


def _cfg(out: Path, corpus: Path, *overrides: str) -> RunConfig:
    source = f"+data.sources=[{{kind: folder, folder: {{root: {corpus}}}, splits: {{all: all}}}}]"
    return load_config([f"out={out}", "data.corpus=sources", source, "splits.train=all", "splits.valid=all",
                        "splits.test=all", *overrides], None, "run")


def test_prepare_data_records_vad_regions_and_features_use_them(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    alignments = _vad_corpus(tmp_path / "corpus")
    out = tmp_path / "run"
    paths = RunPaths(out)
    with caplog.at_level(logging.INFO):
        prepare_data.run(_cfg(out, tmp_path / "corpus", "data.vad.enabled=true"))
    utts = {u.id: u for u in read_manifest(paths.manifest("all"))}
    assert "quiet" in caplog.text and "no speech" in caplog.text
    assert utts["quiet"].speech == [(0.0, 1.0)]  # nothing found: kept whole, counted
    marker = json.loads((paths.corpus / prepare_data.VAD_MARKER).read_text())
    assert marker["no_speech"] == ["quiet"] and marker["vad"] == {**vars(VadConfig()), "enabled": True}
    for name, ali in alignments.items():
        speech = utts[name].speech
        assert speech is not None
        duration = utts[name].duration_s
        assert LEAD_S - PAD_S - 0.1 < speech[0][0] < ali[0][0]  # leading silence cut, first phone kept
        assert ali[-1][1] - 0.05 < speech[-1][1] < duration - TRAIL_S + PAD_S + 0.1  # trailing silence cut
        tm = TimeMap(speech)
        mids = np.array([(s + e) / 2 for s, e, _ in ali])
        np.testing.assert_allclose(tm.to_original(tm.to_kept(mids)), mids)  # every phone is in kept audio
        assert tm.kept_duration_s < duration - (LEAD_S + TRAIL_S - 2 * PAD_S - 0.2)  # type: ignore[operator]

    # the features are those of the kept audio
    folder = extract_features.run(_cfg(out, tmp_path / "corpus", "data.vad.enabled=true"))
    fs = FeatureSet(folder, "all")
    mfcc = MfccFeaturizer(MfccConfig())
    for i, uid in enumerate(fs.ids):
        kept = load_utterance(utts[uid])
        assert kept.shape[0] == round(TimeMap.of(utts[uid]).kept_duration_s * 16000)  # type: ignore[operator]
        direct = mfcc(torch.from_numpy(kept)[None], torch.tensor([kept.shape[0]]), [0])[0]
        assert fs.lens[i] == int(direct[1][0])
        np.testing.assert_allclose(fs[i], direct[0][0].numpy(), atol=2e-2, rtol=2e-3)  # float16 cache
        if uid != "quiet":
            assert load_audio(utts[uid].audio).shape[0] > kept.shape[0] + (LEAD_S + TRAIL_S - 2 * PAD_S - 0.2) * 16000
        assert abs(fs.lens[i] - TimeMap.of(utts[uid]).kept_duration_s / 0.02) <= 2  # type: ignore[operator]

    # cached when nothing changed; other settings re-run the VAD; off removes the regions
    stamp = (paths.corpus / prepare_data.VAD_MARKER).stat().st_mtime_ns
    prepare_data.run(_cfg(out, tmp_path / "corpus", "data.vad.enabled=true"))
    assert (paths.corpus / prepare_data.VAD_MARKER).stat().st_mtime_ns == stamp
    prepare_data.run(_cfg(out, tmp_path / "corpus", "data.vad.enabled=true", "data.vad.speech_pad_ms=300"))
    wider = {u.id: u for u in read_manifest(paths.manifest("all"))}
    assert wider["s1"].speech[0][0] < utts["s1"].speech[0][0]  # type: ignore[index]
    with pytest.raises(ValueError, match="re-run prepare_data"):  # regions made with other settings
        extract_features.run(_cfg(out, tmp_path / "corpus", "data.vad.enabled=true"))
    prepare_data.run(_cfg(out, tmp_path / "corpus"))
    assert all(u.speech is None for u in read_manifest(paths.manifest("all")))
    assert not (paths.corpus / prepare_data.VAD_MARKER).exists()
    plain = extract_features.run(_cfg(out, tmp_path / "corpus"))
    assert plain != folder  # caches with and without VAD never mix
    assert FeatureSet(plain, "all").lens.sum() > fs.lens.sum() + 2 * (LEAD_S + TRAIL_S - 2 * PAD_S - 0.2) / 0.02
