"""Stage 2: unpaired text -> phones with silences, phone inventory, phone n-gram LM.

Writes ``out/data/text/``: ``phones.txt`` (one sentence per line, ``<SIL>`` inserted between words
with probability ``text.sil_prob`` and around each sentence; the GAN's real data),
``phones.nosil.txt`` (the same without silences; the LM's training text), ``vocab.txt`` (the phone
inventory, most frequent first, ``<SIL>`` last) and ``lm.phn.o<N>.bin`` (kenlm).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from unsup_asr.config import RunConfig
from unsup_asr.io import atomic_write_text, mark_done
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import up_to_date
from unsup_asr.text.lm import build_lm
from unsup_asr.text.phonemize import insert_silences, phonemize_words

logger = logging.getLogger(__name__)

SIL = "<SIL>"


def lm_path(text_dir: Path, order: int) -> Path:
    return text_dir / f"lm.phn.o{order}.bin"


def run(cfg: RunConfig) -> Path:
    cfg.text.validate()
    paths = RunPaths(Path(cfg.out))
    out = paths.text
    info = {"text": asdict(cfg.text), "seed": cfg.seed, "source": str(paths.unpaired_text)}
    if up_to_date(out, info):
        logger.info("[prepare_text] cached in %s", out)
        return out
    t0 = time.time()
    src = paths.unpaired_text
    if not src.is_file():
        raise FileNotFoundError(f"unpaired text {src} not found; run prepare_data first")
    sentences = [s.strip() for s in src.read_text(encoding="utf-8").splitlines() if s.strip()]
    if not sentences:
        raise ValueError(f"unpaired text file {src} is empty; provide one sentence per line")
    if cfg.text.max_sentences:
        sentences = sentences[: cfg.text.max_sentences]
    words = phonemize_words(sentences, language=cfg.text.language, njobs=2)
    counts = Counter(p for sent in words for w in sent for p in w)
    rare = {p for p, c in counts.items() if c < cfg.text.min_phone_count}
    kept = [sent for sent in words if sent and not any(p in rare for w in sent for p in w)]
    if not kept:
        raise ValueError(f"no usable sentence left in {src} after phonemisation")
    vocab = [p for p, _ in counts.most_common() if p not in rare] + [SIL]
    rng = np.random.default_rng(cfg.seed)
    with_sil = [" ".join(insert_silences(sent, sil_prob=cfg.text.sil_prob, rng=rng, sil=SIL)) for sent in kept]
    no_sil = [" ".join(p for w in sent for p in w) for sent in kept]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "phones.txt", "\n".join(with_sil) + "\n")
    atomic_write_text(out / "phones.nosil.txt", "\n".join(no_sil) + "\n")
    atomic_write_text(out / "vocab.txt", "\n".join(vocab) + "\n")
    build_lm(out / "phones.nosil.txt", out / f"lm.phn.o{cfg.text.lm_order}", order=cfg.text.lm_order)
    mark_done(out, info)
    logger.info("[prepare_text] %d sentences (%d dropped), %d phones + %s, %d-gram LM (%.1f s)", len(kept),
                len(sentences) - len(kept), len(vocab) - 1, SIL, cfg.text.lm_order, time.time() - t0)
    return out
