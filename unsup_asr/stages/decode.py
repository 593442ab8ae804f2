"""Stage 5: Viterbi decoding of the selected generator -> ``out/exp/decode/<split>.hyp``.

Each line of a ``.hyp`` file is ``<utt_id>\\t<phone> <phone> ...`` (silence removed).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from gan.checkpoint import load_generator
from gan.generator import predict_log_probs
from unsup_asr.config import RunConfig
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.io import atomic_write_text
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import read_vocab
from unsup_asr.stages.segment import load_segments, segments_path

logger = logging.getLogger(__name__)


def read_hyps(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        raise FileNotFoundError(f"hypotheses {path} not found; run the decode stage first")
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        utt, _, phones = line.partition("\t")
        out[utt] = phones.split()
    return out


def run(cfg: RunConfig) -> Path:
    paths = RunPaths(Path(cfg.out))
    t0 = time.time()
    best = paths.gan / "best.pt"
    gen = load_generator(best)
    vocab = read_vocab(paths.text)
    for split in (cfg.splits.valid, cfg.splits.test):
        segs = load_segments(segments_path(cfg, split))
        log_probs = predict_log_probs(gen, segs.embeddings)
        lines = [f"{u}\t{' '.join(decode_one(lp, vocab))}\n" for u, lp in zip(segs.ids, log_probs, strict=True)]
        atomic_write_text(paths.decode / f"{split}.hyp", "".join(lines))
    logger.info("[decode] viterbi on %s and %s -> %s (%.1f s)", cfg.splits.valid, cfg.splits.test, paths.decode,
                time.time() - t0)
    return paths.decode
