"""Stage 4: adversarial training of the generator on unpaired segments and text.

Checkpoint selection is **unsupervised**: wav2vec-U's weighted LM perplexity of the Viterbi output
on the *unlabelled* validation audio, scored by the phone LM built from the unpaired text. No
transcript is read by this stage.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from gan.config import GanConfig
from gan.plot import plot_curves
from gan.restarts import train_gan_seeds
from gan.trainer import TrainResult
from unsup_asr.config import RunConfig
from unsup_asr.io import DONE, atomic_write_json
from unsup_asr.metrics.unsupervised import weighted_lm_ppl
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import read_text_ids, read_vocab
from unsup_asr.stages.prepare_text import SIL, lm_path
from unsup_asr.stages.segment import load_segments, segments_path
from unsup_asr.text.lm import KenLM

logger = logging.getLogger(__name__)


def run(cfg: RunConfig) -> Path:
    cfg.gan.validate()
    paths = RunPaths(Path(cfg.out))
    t0 = time.time()
    train = load_segments(segments_path(cfg, cfg.splits.train)).embeddings
    valid = load_segments(segments_path(cfg, cfg.splits.valid)).embeddings
    _clear_if_stale(paths.gan, _inputs(cfg))
    result = train_on_segments(cfg, cfg.gan, train, valid, paths.gan)
    logger.info("[train_gan] %d updates, selected step %d (weighted LM ppl %.2f) -> %s (%.1f s)",
                result.num_updates_done, result.best_step, result.best_score, result.best_checkpoint,
                time.time() - t0)
    return result.best_checkpoint


def train_on_segments(
    cfg: RunConfig,
    gan_cfg: GanConfig,
    train: list[np.ndarray],
    valid: list[np.ndarray],
    out_dir: Path,
    *,
    init_generator: Path | None = None,
) -> TrainResult:
    """Train the GAN (``gan_cfg``'s seeds) on segment embeddings ``train`` against the run's unpaired
    text, selecting by the unsupervised score on ``valid``; writes ``out_dir`` (``best.pt``,
    ``curves.png``, ...). ``init_generator`` (a ``best.pt``) starts every seed's generator from it."""
    paths = RunPaths(Path(cfg.out))
    vocab = read_vocab(paths.text)
    text = _length_matched(read_text_ids(paths.text, vocab), train)
    lm = KenLM(lm_path(paths.text, cfg.text.lm_order))
    phones = [p for p in vocab if p != SIL]

    def select_score(hyps: list[list[str]]) -> float:
        """Unsupervised: LM perplexity of the outputs / vocabulary usage^2. No labels."""
        return weighted_lm_ppl(hyps, lm, vocab=phones).weighted_lm_ppl

    result = train_gan_seeds(gan_cfg, train, text, vocab, out_dir, valid=valid, select_score=select_score,
                             init_generator=init_generator)
    plot_curves(result.history, out_dir / "curves.png")
    return result


def _length_matched(text: list[np.ndarray], train: list[np.ndarray]) -> list[np.ndarray]:
    """Text sentences no longer (in phones, silences included) than 99 % of the training
    utterances are (in segments): book sentences far longer than any utterance would only cost
    discriminator time and give it a length cue. Falls back to all text if too little is left."""
    limit = int(np.percentile([len(t) for t in train], 99))
    kept = [t for t in text if len(t) <= limit]
    if len(kept) < min(1000, len(text) // 2):
        logger.warning("[train_gan] only %d of %d text sentences fit %d segments: keeping all", len(kept),
                       len(text), limit)
        return text
    logger.info("[train_gan] %d of %d text sentences fit the audio's length (<= %d tokens)", len(kept), len(text),
                limit)
    return kept


def _inputs(cfg: RunConfig) -> dict[str, Any]:
    """What the GAN folder was trained from: its config and the completion records of the
    segments and the text it read (they change whenever those stages re-ran differently)."""
    paths = RunPaths(Path(cfg.out))
    seg_done = segments_path(cfg, cfg.splits.train).parent / DONE
    return {
        "gan": asdict(cfg.gan),
        "segments": json.loads(seg_done.read_text(encoding="utf-8")),
        "text": json.loads((paths.text / DONE).read_text(encoding="utf-8")),
    }


def _clear_if_stale(folder: Path, inputs: dict[str, Any]) -> None:
    """Delete ``folder`` when it holds a GAN trained from other inputs; then record ``inputs``."""
    record = folder / "inputs.json"
    if folder.exists() and (not record.is_file() or json.loads(record.read_text()) != json.loads(json.dumps(inputs))):
        logger.warning("[train_gan] %s was trained with other settings or inputs: starting afresh", folder)
        shutil.rmtree(folder)
    atomic_write_json(record, inputs)
