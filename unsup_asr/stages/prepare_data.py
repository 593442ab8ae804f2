"""Stage 0: prepare the corpus -> ``out/data/corpus/<split>.jsonl`` (and the demo's ``unpaired.txt``).

``data.corpus=demo`` generates the embedded espeak-ng corpus; ``data.corpus=sources`` reads the
listed corpora (:mod:`unsup_asr.data.sources`) and writes one manifest per run split. Every split
the run uses (``splits.train``, ``splits.valid``, the evaluation splits) must come out non-empty.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

from unsup_asr.config import RunConfig
from unsup_asr.data.demo import build_demo_corpus
from unsup_asr.data.manifest import read_manifest, write_manifest
from unsup_asr.data.sources import prepare_sources
from unsup_asr.io import mark_done
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import up_to_date

logger = logging.getLogger(__name__)


def run(cfg: RunConfig) -> Path:
    cfg.data.validate()
    paths = RunPaths(Path(cfg.out))
    t0 = time.time()
    if cfg.data.corpus == "demo":
        build_demo_corpus(cfg.data.demo, paths.corpus)
    else:
        _prepare_sources(cfg, paths)
    counts = {s: len(read_manifest(paths.manifest(s))) for s in cfg.splits.all()}
    hours = sum(u.duration_s for s in cfg.splits.all() for u in read_manifest(paths.manifest(s))) / 3600
    logger.info("[prepare_data] %s: %s utterances, %.2f h of audio (%.1f s)", cfg.data.corpus, counts, hours,
                time.time() - t0)
    return paths.corpus


def _prepare_sources(cfg: RunConfig, paths: RunPaths) -> None:
    info = {"sources": [asdict(s) for s in cfg.data.sources], "root": cfg.data.root}
    if up_to_date(paths.corpus, info):
        logger.info("[prepare_data] cached in %s", paths.corpus)
        return
    splits = prepare_sources(cfg.data.sources, cfg.data.root)
    empty = [s for s in cfg.splits.all() if not splits.get(s)]
    if empty:
        found = {name: len(utts) for name, utts in splits.items()}
        raise ValueError(
            f"run split(s) {empty} got no utterances from data.sources (they give {found}); map a corpus split "
            "onto each with `splits: {corpus_split: run_split}` or change splits.*"
        )
    for name, utts in splits.items():
        write_manifest(paths.manifest(name), utts)
    mark_done(paths.corpus, info)
