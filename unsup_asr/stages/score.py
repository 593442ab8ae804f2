"""Stage 6: scores -> ``out/score.json``. The only stage that reads transcripts and alignments.

Reports PER of the Viterbi output on the test split, boundary precision/recall/F1/R-value (harsh
and lenient) of the segmenter against gold phone boundaries, segments per second, and the two
supervised diagnostic ceilings (see :mod:`unsup_asr.stages.ceilings`).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gan.phone_model import load_phone_model
from unsup_asr.config import RunConfig
from unsup_asr.data.manifest import Utterance, read_manifest
from unsup_asr.data.timemap import TimeMap
from unsup_asr.features.cache import FeatureSet
from unsup_asr.features.frames import boundaries_to_seconds
from unsup_asr.io import atomic_write_json
from unsup_asr.metrics.boundary import alignment_boundaries, boundary_scores, segments_per_second
from unsup_asr.metrics.edit import per, wer
from unsup_asr.paths import RunPaths
from unsup_asr.stages import ceilings, diagnostics
from unsup_asr.stages.common import model_path, read_vocab
from unsup_asr.stages.decode import read_hyps
from unsup_asr.stages.extract_features import features_folder
from unsup_asr.stages.references import hypothesis_mapping, normalize_transcript, reference_phones
from unsup_asr.stages.segment import SegmentSet, load_segments, segments_path

logger = logging.getLogger(__name__)


def run(cfg: RunConfig, extra: dict[str, Any] | None = None) -> Path:
    cfg.score.validate()
    paths = RunPaths(Path(cfg.out))
    t0 = time.time()
    per_split = {split: score_split(cfg, split) for split in cfg.splits.tests()}
    main = per_split[cfg.splits.test]
    score: dict[str, Any] = dict(main)
    score["splits"] = per_split
    score["unsupervised_selection"] = _selection_rule(cfg)
    score.update(_diagnostics(cfg))
    if cfg.score.ceilings:
        score.update(_ceilings(cfg))
    score.update(extra or {})
    score["seconds_score"] = time.time() - t0
    atomic_write_json(paths.score, score)
    for split, res in per_split.items():
        figures = [f"PER {100 * res['per']:.1f}%"]
        if "per_phone_lm" in res:
            figures.append(f"phone-LM PER {100 * res['per_phone_lm']:.1f}%")
        if "wer" in res:
            figures.append(f"WER {100 * res['wer']:.1f}%")
        if "boundary_f1" in res:
            figures.append(f"boundary F1 {res['boundary_f1']:.3f}")
        logger.info("[score] %s (%d utterances): %s", split, res["num_test_utterances"], ", ".join(figures))
    logger.info("[score] -> %s", paths.score)
    return paths.score


def score_split(cfg: RunConfig, split: str) -> dict[str, Any]:
    """PER (Viterbi, and phone LM when decoded), WER (when words were decoded), boundary scores
    (when the manifest has alignments) and segments per second of one evaluation split."""
    paths = RunPaths(Path(cfg.out))
    utts = {u.id: u for u in read_manifest(paths.manifest(split))}
    ids = list(utts)
    refs = reference_phones(cfg, [utts[u] for u in ids])
    convert = hypothesis_mapping(cfg, [utts[u] for u in ids])
    out: dict[str, Any] = {"num_test_utterances": len(ids)}
    for key, suffix in (("per", "hyp"), ("per_phone_lm", "lm.hyp")):
        hyp_path = paths.decode / f"{split}.{suffix}"
        if key == "per" or hyp_path.is_file():
            hyps = read_hyps(hyp_path)
            result = per(refs, [convert(hyps.get(u, [])) for u in ids])
            out[key] = result.rate
            out[f"{key}_detail"] = asdict(result)
    words_path = paths.decode / f"{split}.wrd"
    if words_path.is_file() and all(utts[u].text for u in ids):
        words = read_hyps(words_path)
        result = wer([normalize_transcript(utts[u].text or "") for u in ids], [" ".join(words.get(u, [])) for u in ids])
        out["wer"] = result.rate
        out["wer_detail"] = asdict(result)
    return out | segmentation_scores(load_segments(segments_path(cfg, split)), utts, cfg.score.tolerance_ms)


def segmentation_scores(segs: SegmentSet, utts: dict[str, Utterance], tolerance_ms: float) -> dict[str, Any]:
    """Segments per second, and where every utterance has a gold alignment, boundary P/R/F1/OS/R-value
    (``boundary_harsh``, ``boundary_lenient``; ``boundary_f1`` is the harsh F1) and gold phones per second.

    Gold alignments are in original time; predicted boundaries (frames of the featurized audio) are
    mapped to original time first (:class:`~unsup_asr.data.timemap.TimeMap`: the identity without VAD
    regions). Both rates are per second of featurized (kept) audio."""
    total_s = sum(b.shape[0] for b in segs.boundaries) * segs.frame_shift_s
    out: dict[str, Any] = {
        "segments_per_second": segments_per_second(sum(e.shape[0] for e in segs.embeddings), total_s)
    }
    if all(utts[u].alignment for u in segs.ids):
        refs_b = [alignment_boundaries(utts[u].alignment or []) for u in segs.ids]
        hyps_b = [TimeMap.of(utts[u]).to_original(np.asarray(boundaries_to_seconds(b, segs.frame_shift_s))).tolist()
                  for u, b in zip(segs.ids, segs.boundaries, strict=True)]
        for mode in ("harsh", "lenient"):
            out[f"boundary_{mode}"] = asdict(boundary_scores(refs_b, hyps_b, tolerance_ms=tolerance_ms, mode=mode))
        out["boundary_f1"] = out["boundary_harsh"]["f1"]
        out["gold_phones_per_second"] = segments_per_second(sum(len(b) + 1 for b in refs_b), total_s)
    return out


def _selection_rule(cfg: RunConfig) -> dict[str, Any]:
    """The label-free rules that chose the run's model (from the learner's and self-training's records)."""
    paths = RunPaths(Path(cfg.out))
    out: dict[str, Any] = {}
    for name, folder in (("learner", paths.learn(cfg.learner.name)), ("self_train", paths.self_train)):
        record = folder / "selection.json"
        if record.is_file() and (name == "learner" or cfg.self_train.students):
            sel = json.loads(record.read_text(encoding="utf-8"))
            out[name] = {"name": sel["learner"], "rule": sel["rule"], "label_free_score": sel["score"],
                         "selected": sel.get("info", {}).get("selected"), "info": sel.get("info", {})}
            if sel.get("info", {}).get("max_seconds_fired"):
                logger.warning("[score] the %s stopped at its max_seconds safety cap before its update budget", name)
    return out


def _diagnostics(cfg: RunConfig) -> dict[str, Any]:
    """Selection and learning diagnostics (they use labels; see :mod:`unsup_asr.stages.diagnostics`)."""
    paths = RunPaths(Path(cfg.out))
    utts = {u.id: u for u in read_manifest(paths.manifest(cfg.splits.test))}
    test = load_segments(segments_path(cfg, cfg.splits.test))
    ordered = [utts[u] for u in test.ids]
    out: dict[str, Any] = {"diagnostics_note": diagnostics.NOTE, "selection_diagnostics": {}}
    folders = [("learner", paths.learn(cfg.learner.name))]
    if cfg.self_train.students:
        folders.append(("self_train", paths.self_train))
    for name, folder in folders:
        report = diagnostics.selection_report(cfg, folder, ordered)
        if report is not None:
            out["selection_diagnostics"][name] = report
            logger.info("[score] %s selection (USES LABELS, diagnostic): chose %s at PER %.1f%%; best seen %.1f%% "
                        "(%s) of %d candidates", name, report["selected"], 100 * report["selected_per"],
                        100 * report["best_per_seen"], report["best_per_candidate"], report["num_candidates"])
    if all(u.alignment for u in ordered):
        text_counts = Counter((paths.text / "phones.txt").read_text(encoding="utf-8").split())
        check = diagnostics.learning_check(
            cfg, load_phone_model(model_path(cfg)), load_segments(segments_path(cfg, cfg.splits.train)), test,
            utts, text_counts, num_clusters=cfg.score.check_clusters, seed=cfg.seed)
        out["learning_check"] = check
        logger.info("[score] learning check (USES LABELS): per-segment accuracy %.3f; random tables %.3f (best "
                    "%.3f); perfect table %.3f; segment-cluster PNMI %.3f -> %s", check["accuracy_model"],
                    check["accuracy_random_tables_mean"], check["accuracy_random_tables_max"],
                    check["accuracy_perfect_table"], check["pnmi_segment_clusters"],
                    "learned" if check["learned"] else "NOT distinguishable from chance")
    return out


def _ceilings(cfg: RunConfig) -> dict[str, Any]:
    """The two supervised diagnostic ceilings (labels used; clearly named as such)."""
    paths = RunPaths(Path(cfg.out))
    vocab = read_vocab(paths.text)
    index = {p: i for i, p in enumerate(vocab)}
    manifests = {split: {u.id: u for u in read_manifest(paths.manifest(split))}
                 for split in (cfg.splits.train, cfg.splits.test)}
    for split, records in manifests.items():
        if not all(u.alignment and {p for _, _, p in u.alignment} <= set(index) | {"sil"} for u in records.values()):
            logger.info("[score] no supervised ceilings: split %s lacks gold alignments in the text's phone set", split)
            return {"ceilings_note": f"not computed: split {split} has no gold phone alignments in the phone set"}
    feat_dir = features_folder(cfg)
    data: dict[str, dict[str, Any]] = {}
    for split, utts in manifests.items():
        fs = FeatureSet(feat_dir, split)
        segs = load_segments(segments_path(cfg, split))
        labels = [ceilings.frame_labels(utts[u], fs.lens[i], fs.frame_shift_s, index) for i, u in enumerate(fs.ids)]
        data[split] = {
            "seg_feats": segs.embeddings,
            "seg_labels": [ceilings.segment_labels(lab, b) for lab, b in zip(labels, segs.boundaries, strict=True)],
            "gold_feats": [ceilings.pool_gold(fs[i], lab) for i, lab in enumerate(labels)],
            "gold_labels": [lab[ceilings.gold_boundaries(lab)] for lab in labels],
            "refs": [utts[u].phones or [] for u in fs.ids],
        }
    tr, te = data[cfg.splits.train], data[cfg.splits.test]
    out: dict[str, Any] = {}
    variants = (("same_segments", "seg_feats", "seg_labels"), ("gold_segments", "gold_feats", "gold_labels"))
    for name, feats_key, labels_key in variants:
        t0 = time.time()
        rate = ceilings.supervised_per(ceilings.CEILING_GENERATOR, vocab, tr[feats_key], tr[labels_key],
                                       te[feats_key], te["refs"],
                                       num_updates=cfg.score.ceiling_updates, seed=cfg.seed,
                                       lr=cfg.score.ceiling_lr)
        out[f"supervised_ceiling_per_{name}"] = rate
        logger.info("[score] diagnostic ceiling (SUPERVISED, uses labels) on %s: PER %.1f%% (%.0f s)", name,
                    100 * rate, time.time() - t0)
    out["ceilings_note"] = (
        "supervised_ceiling_* are diagnostics trained WITH labels; they bound what the segments/features allow"
    )
    return out
