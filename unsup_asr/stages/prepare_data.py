"""Stage 0: prepare the corpus -> ``out/data/corpus/{<split>.jsonl, unpaired.txt}``."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from unsup_asr.config import RunConfig
from unsup_asr.data.demo import build_demo_corpus
from unsup_asr.data.manifest import read_manifest
from unsup_asr.paths import RunPaths

logger = logging.getLogger(__name__)


def run(cfg: RunConfig) -> Path:
    cfg.data.validate()
    paths = RunPaths(Path(cfg.out))
    t0 = time.time()
    build_demo_corpus(cfg.data.demo, paths.corpus)
    counts = {s: len(read_manifest(paths.manifest(s))) for s in cfg.splits.all()}
    hours = sum(u.duration_s for s in cfg.splits.all() for u in read_manifest(paths.manifest(s))) / 3600
    logger.info("[prepare_data] %s: %s utterances, %.2f h of audio (%.1f s)", cfg.data.corpus, counts, hours,
                time.time() - t0)
    return paths.corpus
