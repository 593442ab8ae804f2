"""Stage 0: prepare the corpus -> ``out/data/corpus/<split>.jsonl`` (and the demo's ``unpaired.txt``).

``data.corpus=demo`` generates the embedded espeak-ng corpus; ``data.corpus=sources`` reads the
listed corpora (:mod:`unsup_asr.data.sources`) and writes one manifest per run split. Every split
the run uses (``splits.train``, ``splits.valid``, the evaluation splits) must come out non-empty.

With ``data.vad.enabled`` a last step runs the VAD (:mod:`unsup_asr.data.vad`) on every utterance of
the run's splits and records the kept regions in the manifests (``speech``, original time); an
utterance in which it finds no speech is kept whole (``speech`` = the whole audio) and counted. The
step is cached by ``out/data/corpus/vad.json`` (the VAD settings and the SHA-1 of each manifest it
wrote), so changing the settings, or a rebuilt corpus, re-runs it; turning VAD off removes the regions.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from unsup_asr.config import RunConfig
from unsup_asr.data.audio import load_audio
from unsup_asr.data.demo import build_demo_corpus
from unsup_asr.data.manifest import Utterance, read_manifest, write_manifest
from unsup_asr.data.sources import prepare_sources
from unsup_asr.data.vad import SpeechDetector
from unsup_asr.features.frames import SAMPLE_RATE
from unsup_asr.io import atomic_write_json, file_sha1, mark_done
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
    _apply_vad(cfg, paths)
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


VAD_MARKER = "vad.json"
"""``out/data/corpus/vad.json``: VAD settings, the SHA-1 of each manifest the VAD step wrote, the
kept and total audio seconds and the ids of utterances without detected speech (kept whole)."""


def recorded_vad(corpus: Path) -> dict[str, Any] | None:
    """VAD settings whose speech regions the manifests in ``corpus`` hold (None: no VAD step recorded)."""
    marker = corpus / VAD_MARKER
    if not marker.is_file():
        return None
    settings: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))["vad"]
    return settings


def _read_raw(path: Path) -> list[Utterance]:
    """Manifest records as written (relative audio paths left relative, unlike read_manifest)."""
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist; check splits.* against the corpus's splits")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Utterance.from_dict(json.loads(x), where=f"{path}:{n}") for n, x in enumerate(lines, 1) if x.strip()]


def _apply_vad(cfg: RunConfig, paths: RunPaths) -> None:
    """Record (or, with VAD off, remove) the speech regions of every utterance of the run's splits."""
    vad = cfg.data.vad
    splits = cfg.splits.all()
    marker = paths.corpus / VAD_MARKER
    if not vad.enabled:
        for split in splits:
            utts = _read_raw(paths.manifest(split))
            if any(u.speech is not None for u in utts):
                for u in utts:
                    u.speech = None
                write_manifest(paths.manifest(split), utts)
                logger.info("[prepare_data] %s: VAD speech regions removed (data.vad.enabled=false)", split)
        marker.unlink(missing_ok=True)
        return
    settings = asdict(vad)
    if marker.is_file():
        old = json.loads(marker.read_text(encoding="utf-8"))
        if old["vad"] == settings and old["manifests"] == {s: file_sha1(paths.manifest(s)) for s in splits}:
            logger.info("[prepare_data] VAD regions up to date in %s", paths.corpus)
            return
    marker.unlink(missing_ok=True)
    detector = SpeechDetector(vad)
    kept = total = 0.0
    no_speech: list[str] = []
    for split in splits:
        manifest = paths.manifest(split)
        utts = _read_raw(manifest)
        for u in tqdm(utts, desc=f"VAD {split}", unit="utt", leave=False):
            audio = u.audio if os.path.isabs(u.audio) else str(manifest.parent / u.audio)
            wav = load_audio(audio)
            regions = detector(wav)
            if not regions:
                no_speech.append(u.id)
                regions = [(0.0, wav.shape[0] / SAMPLE_RATE)]
            u.speech = regions
            kept += sum(e - s for s, e in regions)
            total += wav.shape[0] / SAMPLE_RATE
        write_manifest(manifest, utts)
    atomic_write_json(marker, {"vad": settings, "manifests": {s: file_sha1(paths.manifest(s)) for s in splits},
                               "kept_s": round(kept, 3), "total_s": round(total, 3), "no_speech": no_speech})
    logger.info("[prepare_data] VAD (silero-vad %s): kept %.3f of %.3f h (%.1f%%)", detector.version, kept / 3600,
                total / 3600, 100 * kept / max(total, 1e-9))
    if no_speech:
        logger.warning("[prepare_data] VAD found no speech in %d utterance(s), kept whole: %s%s", len(no_speech),
                       ", ".join(no_speech[:10]), " ..." if len(no_speech) > 10 else "")
