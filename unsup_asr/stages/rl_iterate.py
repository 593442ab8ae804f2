"""``uasr rl-iterate``: REBORN-style iterations of an RL boundary segmenter and re-learning.

Starts from a finished run (features, text, the ``cfg.segmenter`` segments, the learner's ``best.pt``),
re-running (or reading from cache) those stages so that they match ``cfg``.
For ``i = 1 .. rl.iterations``:

1. **policy**: a CNN boundary policy clones the previous boundaries (the starting segmenter's for
   ``i = 1``), then learns by policy gradient against the *fixed* current generator; the reward
   compares each sampled segmentation's transcription with the previous iteration's (phone-LM
   perplexity, edit distance, length; :mod:`segmentation.rl.reward`);
2. **segments**: the policy segments every split (embeddings pooled like the starting segmenter's);
3. **learner**: the run's learner (``learner=gan``: the GAN with ``rl.gan_num_updates``,
   ``rl.gan_num_seeds``, ``rl.gan_max_seconds``; any learner: ``rl.gan_overrides``) re-trained on the
   new segments, starting from the previous model, selected by its own label-free rule;
4. **log**: Viterbi decoding of ``valid`` and the evaluation splits; the unsupervised score; and,
   **for evaluation only** (never used for any decision), PER and boundary F1 against the labels.

Writes ``out/exp/rl/iter<i>/`` (``policy.pt``, ``policy_history.jsonl``, ``seg/<split>.npz``,
``learn/``, ``decode/<split>.hyp``, ``record.json``, ``.done`` last) and ``out/exp/rl/summary.json``
(the starting point as iteration 0, every iteration, and the one with the lowest unsupervised score).
A finished iteration is skipped on re-run (also when only ``rl.iterations`` grew); an unfinished one
reuses its finished parts (policy, segments, the learner via ``last.pt``). Settings or inputs that changed
restart the first affected iteration and drop the later ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from gan.generator import SIL
from gan.phone_model import PhoneModel, load_phone_model, predict_log_probs
from segmentation.base import Segmenter
from segmentation.rl.policy import BoundaryPolicy, save_policy
from segmentation.rl.ppo import train_policy
from segmentation.rl.projection import FrameProjection
from segmentation.rl.scorer import RewardScorer
from segmentation.rl.segmenter import RlSegmenter, RlSegmenterConfig
from unsup_asr.config import RunConfig, with_overrides
from unsup_asr.data.manifest import read_manifest
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.features.cache import FeatureSet
from unsup_asr.io import DONE, atomic_write_json, atomic_write_text, is_done, mark_done
from unsup_asr.metrics.edit import per
from unsup_asr.metrics.unsupervised import weighted_lm_ppl
from unsup_asr.paths import RunPaths
from unsup_asr.stages import extract_features, learn, segment
from unsup_asr.stages.common import read_vocab, up_to_date
from unsup_asr.stages.extract_features import features_folder
from unsup_asr.stages.prepare_text import lm_path
from unsup_asr.stages.references import hypothesis_mapping, reference_phones
from unsup_asr.stages.score import segmentation_scores
from unsup_asr.stages.segment import SegmentSet, build_segmenter, load_segments, save_segments
from unsup_asr.text.lm import KenLM

logger = logging.getLogger(__name__)

EVALUATION_NOTE = ("evaluation_only figures (PER, boundary F1) use transcripts/alignments and are reported, never "
                   "used for any decision; the GAN checkpoint is selected by the unsupervised weighted LM perplexity")


def run(cfg: RunConfig) -> Path:
    cfg.rl.validate()
    paths = RunPaths(Path(cfg.out))
    root = paths.out / "exp" / "rl"
    if not paths.manifest(cfg.splits.train).is_file() or not lm_path(paths.text, cfg.text.lm_order).is_file():
        raise FileNotFoundError(f"rl-iterate starts from a prepared run: run `uasr all` on {paths.out} first")
    # The starting point must be *this* config's segments and GAN: each stage returns its cached output
    # when it is up to date with cfg and recomputes it otherwise (segments left by another segmenter
    # config under the same name, or a GAN trained on other segments, are never used as they are).
    extract_features.run(cfg)
    start_seg_dir = segment.run(cfg)
    start_gan = learn.run(cfg)
    device = _device(cfg.rl.device)
    feat_dir = features_folder(cfg)
    start = build_segmenter(cfg.segmenter)
    start.load(start_seg_dir / "segmenter.npz")
    projection = FrameProjection.from_segmenter(start, FeatureSet(feat_dir, cfg.splits.train).dim)
    lm = KenLM(lm_path(paths.text, cfg.text.lm_order))
    rl_settings = {k: v for k, v in asdict(cfg.rl).items() if k != "iterations"}  # more iterations reuse these
    base = {"segments": _marker(start_seg_dir), "gan": _fingerprint(start_gan), "rl": rl_settings,
            "learner_config": asdict(cfg.learner), "features": str(feat_dir)}

    summary: dict[str, Any] = {"note": EVALUATION_NOTE, "iterations": []}
    prev_seg_dir, prev_gan = start_seg_dir, start_gan
    summary["iterations"].append(evaluate(cfg, prev_seg_dir, prev_gan, lm, root / "iter0", iteration=0))
    for i in range(1, cfg.rl.iterations + 1):
        it_dir = root / f"iter{i}"
        info = base | {"iteration": i}
        if up_to_date(it_dir, info):
            logger.info("[rl_iterate] iteration %d finished before: %s", i, it_dir)
            record = json.loads((it_dir / "record.json").read_text(encoding="utf-8"))
        else:
            _clear_if_stale(it_dir, info, root)
            record = run_iteration(cfg, i, prev_seg_dir, prev_gan, it_dir, projection, lm, device)
            mark_done(it_dir, info)
        summary["iterations"].append(record)
        atomic_write_json(root / "summary.json", summary)
        prev_seg_dir, prev_gan = it_dir / "seg", it_dir / "learn" / "best.pt"
    best = min(summary["iterations"], key=lambda r: r["unsupervised"]["valid_weighted_lm_ppl"])
    summary["best_unsupervised_iteration"] = best["iteration"]
    summary["best_rule"] = ("lowest valid weighted LM perplexity (no labels); iterations >= 1 are measured with the "
                            "generator their policy was trained against, which favours them")
    atomic_write_json(root / "summary.json", summary)
    logger.info("[rl_iterate] %d iterations -> %s (lowest unsupervised score: iteration %d)", cfg.rl.iterations,
                root / "summary.json", best["iteration"])
    return root


def run_iteration(cfg: RunConfig, i: int, prev_seg_dir: Path, prev_gan: Path, it_dir: Path,
                  projection: FrameProjection, lm: KenLM, device: torch.device) -> dict[str, Any]:
    """One iteration: policy (BC, then RL against the generator ``prev_gan``) -> segments -> GAN -> log."""
    t_start = time.time()
    seconds: dict[str, float] = {}
    feat_dir = features_folder(cfg)
    vocab = read_vocab(RunPaths(Path(cfg.out)).text)

    t0 = time.time()
    policy_path = it_dir / "policy.pt"
    if not policy_path.is_file():
        generator = _segment_model(prev_gan, str(device))
        prev = load_segments(prev_seg_dir / f"{cfg.splits.train}.npz")
        prev_hyps = [decode_one(lp, vocab) for lp in predict_log_probs(generator, prev.embeddings)]
        train_feats = list(FeatureSet(feat_dir, cfg.splits.train))
        scorer = RewardScorer([projection.project(x) for x in train_feats], projection.pooling, generator, lm,
                              prev_hyps, cfg.rl.reward)
        torch.manual_seed(cfg.rl.seed + i)  # the policy's initial weights
        policy = BoundaryPolicy(cfg.rl.policy, projection.in_dim)
        result = train_policy(cfg.rl, policy, train_feats, prev.boundaries, scorer, device=device,
                              seed=cfg.rl.seed + i)
        atomic_write_text(it_dir / "policy_history.jsonl", "".join(json.dumps(r) + "\n" for r in result.history))
        atomic_write_json(it_dir / "policy.json", {
            "bc_agreement_f1": result.bc_agreement_f1, "updates": result.updates,
            "seconds_bc": result.seconds_bc, "seconds_rl": result.seconds_rl, "last": result.history[-1]})
        save_policy(policy_path, policy.cpu(), projection)
    seconds["policy"] = time.time() - t0

    t0 = time.time()
    seg_dir = it_dir / "seg"
    if not is_done(seg_dir):
        segmenter = RlSegmenter(RlSegmenterConfig(policy=str(policy_path), threshold=cfg.rl.threshold))
        for split in cfg.splits.all():
            save_segments(seg_dir / f"{split}.npz", segment_split(segmenter, FeatureSet(feat_dir, split)))
        mark_done(seg_dir, {"policy": str(policy_path), "threshold": cfg.rl.threshold})
    seconds["segment"] = time.time() - t0

    t0 = time.time()
    learner_cfg = cfg.learner
    if learner_cfg.name == "gan":
        learner_cfg = dataclasses.replace(learner_cfg, num_updates=cfg.rl.gan_num_updates,
                                          max_seconds=cfg.rl.gan_max_seconds, num_seeds=cfg.rl.gan_num_seeds)
    learner_cfg = with_overrides(learner_cfg, cfg.rl.gan_overrides)
    train = load_segments(seg_dir / f"{cfg.splits.train}.npz").embeddings
    valid = load_segments(seg_dir / f"{cfg.splits.valid}.npz").embeddings
    learned = learn.fit(cfg, learner_cfg, train, valid, it_dir / "learn", init=prev_gan)
    seconds["learn"] = time.time() - t0

    t0 = time.time()
    record = evaluate(cfg, seg_dir, learned.checkpoint, lm, it_dir, iteration=i)
    seconds["evaluate"] = time.time() - t0
    seconds["total"] = time.time() - t_start
    record["seconds"] = seconds
    record["policy"] = json.loads((it_dir / "policy.json").read_text(encoding="utf-8"))
    record["learner"] = {"name": learner_cfg.name, "score": learned.score, "rule": learned.rule} | learned.info
    atomic_write_json(it_dir / "record.json", record)
    return record


def segment_split(segmenter: Segmenter, fs: FeatureSet, batch_size: int = 32) -> SegmentSet:
    """Segment every utterance of a cached split in padded batches."""
    embs: list[np.ndarray] = []
    bounds: list[np.ndarray] = []
    for start in tqdm(range(0, len(fs), batch_size), desc=f"rl: segment {fs.split}", unit="batch", leave=False):
        chunk = [fs[j] for j in range(start, min(start + batch_size, len(fs)))]
        lens = torch.tensor([len(x) for x in chunk])
        padded = torch.zeros(len(chunk), int(lens.max()), fs.dim)
        for b, x in enumerate(chunk):
            padded[b, : len(x)] = torch.from_numpy(x)
        for utt_bounds, utt_embs in segmenter(padded, lens).unbatch(lens):
            bounds.append(utt_bounds)
            embs.append(utt_embs)
    return SegmentSet(fs.ids, embs, bounds, fs.frame_shift_s)


def evaluate(
    cfg: RunConfig, seg_dir: Path, gan_path: Path, lm: KenLM, out_dir: Path, *, iteration: int
) -> dict[str, Any]:
    """Decode ``valid`` and the evaluation splits; the unsupervised score, then EVALUATION-ONLY figures.

    Unsupervised (no labels): weighted LM perplexity, LM perplexity and vocabulary usage of the
    Viterbi output on ``valid``; segments per second. Evaluation only (labels; never used for any
    decision): PER of the Viterbi output on every evaluation split, boundary F1 (harsh) on every
    split whose manifest has gold alignments.
    """
    paths = RunPaths(Path(cfg.out))
    generator = _segment_model(gan_path, "cpu")
    vocab = read_vocab(paths.text)
    splits = list(dict.fromkeys([cfg.splits.valid, *cfg.splits.tests()]))
    segs = {split: load_segments(seg_dir / f"{split}.npz") for split in splits}
    hyps: dict[str, list[list[str]]] = {}
    for split in splits:
        hyps[split] = [decode_one(lp, vocab) for lp in predict_log_probs(generator, segs[split].embeddings)]
        atomic_write_text(out_dir / "decode" / f"{split}.hyp",
                          "".join(f"{u}\t{' '.join(h)}\n" for u, h in zip(segs[split].ids, hyps[split], strict=True)))
    score = weighted_lm_ppl(hyps[cfg.splits.valid], lm, vocab=[p for p in vocab if p != SIL])
    record: dict[str, Any] = {
        "iteration": iteration,
        "segments": str(seg_dir),
        "generator": str(gan_path),
        "unsupervised": {"valid_weighted_lm_ppl": score.weighted_lm_ppl, "valid_lm_ppl": score.lm_ppl,
                         "valid_vocab_seen_pct": score.vocab_seen_pct},
    }
    evaluation: dict[str, Any] = {}
    for split in splits:  # EVALUATION ONLY below: transcripts and alignments are read here and nowhere else
        utts = {u.id: u for u in read_manifest(paths.manifest(split))}
        seg_scores = segmentation_scores(segs[split], utts, cfg.score.tolerance_ms)
        record["unsupervised"][f"{split}_segments_per_second"] = seg_scores["segments_per_second"]
        figures: dict[str, float] = {}
        if "boundary_f1" in seg_scores:
            figures["boundary_f1"] = seg_scores["boundary_f1"]
        if split in cfg.splits.tests():
            ordered = [utts[u] for u in segs[split].ids]
            convert = hypothesis_mapping(cfg, ordered)
            figures["per"] = per(reference_phones(cfg, ordered), [convert(h) for h in hyps[split]]).rate
        evaluation[split] = figures
    record["evaluation_only"] = evaluation
    test = evaluation[cfg.splits.test]
    logger.info("[rl_iterate] iteration %d: valid weighted LM ppl %.2f (unsupervised), %.2f seg/s | EVALUATION ONLY: "
                "%s PER %.1f%%, boundary F1 %.3f", iteration, score.weighted_lm_ppl,
                record["unsupervised"][f"{cfg.splits.test}_segments_per_second"], cfg.splits.test,
                100 * test["per"], test.get("boundary_f1", float("nan")))
    return record


def _segment_model(path: Path, device: str) -> PhoneModel:
    """The segment-level phone model at ``path`` (the RL reward transcribes segments)."""
    model = load_phone_model(path, map_location=device)
    if model.unit != "segment":
        raise ValueError(f"rl-iterate needs a segment-level model, but {path} is a {model.unit} model")
    return model


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _marker(folder: Path) -> Any:
    """The completion record of a finished folder (identifies what an iteration started from)."""
    return json.loads((folder / DONE).read_text(encoding="utf-8"))


def _fingerprint(path: Path) -> dict[str, Any]:
    """Path and SHA-1 of a file's content (identifies the starting generator; train_gan rewrites it unchanged)."""
    return {"path": str(path), "sha1": hashlib.sha1(path.read_bytes()).hexdigest()}


def _clear_if_stale(it_dir: Path, info: dict[str, Any], root: Path) -> None:
    """Start iteration ``it_dir`` afresh (and drop every later one) unless its parts were made with ``info``."""
    record = it_dir / "inputs.json"
    if it_dir.exists() and (not record.is_file() or json.loads(record.read_text()) != json.loads(json.dumps(info))):
        logger.warning("[rl_iterate] %s was made with other settings or inputs: starting it afresh", it_dir)
        shutil.rmtree(it_dir)
    later = [p for p in root.glob("iter*") if p.name[4:].isdigit() and int(p.name[4:]) > info["iteration"]]
    for folder in later:
        shutil.rmtree(folder)
    atomic_write_json(record, info)
