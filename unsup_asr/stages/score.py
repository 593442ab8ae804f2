"""Stage 6: scores -> ``out/score.json``. The only stage that reads transcripts and alignments.

Reports PER of the Viterbi output on the test split, boundary precision/recall/F1/R-value (harsh
and lenient) of the segmenter against gold phone boundaries, segments per second, and the two
supervised diagnostic ceilings (see :mod:`unsup_asr.stages.ceilings`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from unsup_asr.config import RunConfig
from unsup_asr.data.manifest import read_manifest
from unsup_asr.features.cache import FeatureSet
from unsup_asr.features.frames import boundaries_to_seconds
from unsup_asr.io import atomic_write_json
from unsup_asr.metrics.boundary import alignment_boundaries, boundary_scores, segments_per_second
from unsup_asr.metrics.edit import per
from unsup_asr.paths import RunPaths
from unsup_asr.stages import ceilings
from unsup_asr.stages.common import read_vocab
from unsup_asr.stages.decode import read_hyps
from unsup_asr.stages.extract_features import features_folder
from unsup_asr.stages.segment import load_segments, segments_path

logger = logging.getLogger(__name__)


def run(cfg: RunConfig, extra: dict[str, Any] | None = None) -> Path:
    cfg.score.validate()
    paths = RunPaths(Path(cfg.out))
    t0 = time.time()
    split = cfg.splits.test
    utts = {u.id: u for u in read_manifest(paths.manifest(split))}
    hyps = read_hyps(paths.decode / f"{split}.hyp")
    missing = [u for u, x in utts.items() if not x.phones]
    if missing:
        raise ValueError(f"test utterances without reference phones (e.g. {missing[:3]}); cannot compute PER")
    ids = list(utts)
    result = per([utts[u].phones or [] for u in ids], [hyps.get(u, []) for u in ids])
    score: dict[str, Any] = {
        "per": result.rate,
        "per_detail": asdict(result),
        "num_test_utterances": len(ids),
        "unsupervised_selection": "weighted LM perplexity on unlabelled validation audio (no transcripts)",
    }
    segs = load_segments(segments_path(cfg, split))
    total_s = sum(b.shape[0] for b in segs.boundaries) * segs.frame_shift_s
    score["segments_per_second"] = segments_per_second(sum(e.shape[0] for e in segs.embeddings), total_s)
    if all(utts[u].alignment for u in segs.ids):
        refs_b = [alignment_boundaries(utts[u].alignment or []) for u in segs.ids]
        hyps_b = [boundaries_to_seconds(b, segs.frame_shift_s) for b in segs.boundaries]
        for mode in ("harsh", "lenient"):
            bs = boundary_scores(refs_b, hyps_b, tolerance_ms=cfg.score.tolerance_ms, mode=mode)
            score[f"boundary_{mode}"] = asdict(bs)
        score["boundary_f1"] = score["boundary_harsh"]["f1"]
        score["gold_phones_per_second"] = segments_per_second(sum(len(b) + 1 for b in refs_b), total_s)
        if cfg.score.ceilings:
            score.update(_ceilings(cfg))
    score.update(extra or {})
    score["seconds_score"] = time.time() - t0
    atomic_write_json(paths.score, score)
    logger.info("[score] PER %.1f%% on %d test utterances, boundary F1 %s -> %s", 100 * result.rate, len(ids),
                f"{score.get('boundary_f1', float('nan')):.3f}", paths.score)
    return paths.score


def _ceilings(cfg: RunConfig) -> dict[str, Any]:
    """The two supervised diagnostic ceilings (labels used; clearly named as such)."""
    paths = RunPaths(Path(cfg.out))
    vocab = read_vocab(paths.text)
    index = {p: i for i, p in enumerate(vocab)}
    feat_dir = features_folder(cfg)
    data: dict[str, dict[str, Any]] = {}
    for split in (cfg.splits.train, cfg.splits.test):
        utts = {u.id: u for u in read_manifest(paths.manifest(split))}
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
        rate = ceilings.supervised_per(cfg.gan, vocab, tr[feats_key], tr[labels_key], te[feats_key], te["refs"],
                                       num_updates=cfg.score.ceiling_updates, seed=cfg.seed)
        out[f"supervised_ceiling_per_{name}"] = rate
        logger.info("[score] diagnostic ceiling (SUPERVISED, uses labels) on %s: PER %.1f%% (%.0f s)", name,
                    100 * rate, time.time() - t0)
    out["ceilings_note"] = (
        "supervised_ceiling_* are diagnostics trained WITH labels; they bound what the segments/features allow"
    )
    return out
