"""Stage 2: unpaired text -> phones with silences, phone inventory, phone and word n-gram LMs, lexicon.

Where the text comes from (``text.path``, ``text.from_split`` or the demo's ``unpaired.txt``) and
how it becomes phones (``text.kind``, ``text.phone_set``) are described in
:class:`unsup_asr.config.TextConfig`. Word text is normalised (:mod:`unsup_asr.text.normalize`),
de-duplicated, and sentences also found in an evaluation split's transcripts are removed (the
count is logged and written to ``stats.json``).

Writes ``out/data/text/``:

- ``phones.txt``: one sentence per line, ``<SIL>`` inserted between words with probability
  ``text.sil_prob`` (the GAN's real data); ``phones.nosil.txt``: the same without silences;
- ``vocab.txt``: the phone inventory, most frequent first, ``<SIL>`` last;
- ``lm.phn.o<N>.bin``: the phone LM for unsupervised selection (``text.lm_order``) and for the
  phone-LM decoder (``text.decode_lm_order``);
- with word text: ``words.txt`` (normalised sentences), ``lm.wrd.o<N>.bin`` (``text.word_lm_order``)
  and ``lexicon.lst`` (the pronunciations used, flashlight's format);
- ``stats.json``: sentence counts at each step.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from unsup_asr.config import RunConfig
from unsup_asr.data.manifest import read_manifest
from unsup_asr.io import atomic_write_json, atomic_write_text, mark_done
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import up_to_date
from unsup_asr.text.lexicon import Lexicon, LexiconConfig, build_lexicon, pronunciations_in_context
from unsup_asr.text.lm import build_lm
from unsup_asr.text.normalize import deduplicate, normalize_lines, read_text_lines, remove_overlap
from unsup_asr.text.phonemize import SIL, insert_silences, phonemize_words

logger = logging.getLogger(__name__)

__all__ = ["SIL", "lm_path", "run", "word_lm_path"]


def lm_path(text_dir: Path, order: int) -> Path:
    return text_dir / f"lm.phn.o{order}.bin"


def word_lm_path(text_dir: Path, order: int) -> Path:
    return text_dir / f"lm.wrd.o{order}.bin"


def _source_lines(cfg: RunConfig, paths: RunPaths) -> tuple[list[str], str]:
    """Raw unpaired sentences (or phone lines) and a description of where they came from."""
    if cfg.text.from_split:
        utts = read_manifest(paths.manifest(cfg.text.from_split))
        if cfg.text.kind == "phones":
            lines = [" ".join(u.phones) for u in utts if u.phones]
        else:
            lines = [u.text for u in utts if u.text]
        source = f"{len(utts)} transcripts of split {cfg.text.from_split!r}"
    else:
        path = Path(cfg.text.path) if cfg.text.path else paths.unpaired_text
        if not path.is_file():
            hint = "set text.path" if not cfg.text.path else "check text.path"
            raise FileNotFoundError(f"unpaired text {path} not found: {hint} (or run prepare_data for the demo)")
        lines = read_text_lines(path)
        source = str(path)
    if not lines:
        raise ValueError(f"unpaired text from {source} is empty; provide one sentence per line")
    return lines, source


def _eval_transcripts(cfg: RunConfig, paths: RunPaths) -> list[str]:
    return [u.text for split in cfg.splits.tests() for u in read_manifest(paths.manifest(split)) if u.text]


def _word_phones(cfg: RunConfig, sentences: list[str]) -> tuple[list[list[list[str]] | None], Lexicon]:
    """Phones of each word of each sentence (None: a sentence with an unpronounceable word) and
    the lexicon of the pronunciations used."""
    if cfg.text.phone_set == "ipa":
        # In context: espeak-ng's weak forms depend on the sentence (see unsup_asr.text.lexicon).
        phonemized = [[w for w in words if w] for words in phonemize_words(sentences, language=cfg.text.language,
                                                                            njobs=2)]
        lexicon = Lexicon(pronunciations_in_context(sentences, phonemized, LexiconConfig().max_pronunciations))
        return [words or None for words in phonemized], lexicon
    vocab = sorted({w for s in sentences for w in s.split()})
    lexicon, report = build_lexicon(vocab, LexiconConfig(
        mode="arpabet", language=cfg.text.language, njobs=2, skip_unmapped=True))
    logger.info("[prepare_text] lexicon: %d words from CMUdict, %d from espeak-ng, %d left out (unpronounceable or "
                "foreign phones; their sentences are dropped)", report.from_cmudict, report.from_espeak,
                len(report.skipped) + len(report.unmapped))
    return [[lexicon[w][0] for w in s.split()] if all(w in lexicon for w in s.split()) else None
            for s in sentences], lexicon


def run(cfg: RunConfig) -> Path:
    cfg.text.validate()
    paths = RunPaths(Path(cfg.out))
    out = paths.text
    info = {"text": asdict(cfg.text), "seed": cfg.seed, "tests": cfg.splits.tests(),
            "source": cfg.text.path or cfg.text.from_split or str(paths.unpaired_text)}
    if up_to_date(out, info):
        logger.info("[prepare_text] cached in %s", out)
        return out
    t0 = time.time()
    lines, source = _source_lines(cfg, paths)
    stats: dict[str, object] = {"source": source, "lines": len(lines)}
    words: list[str] = []
    lexicon: Lexicon | None = None
    if cfg.text.kind == "phones":
        sentence_words: list[list[list[str]] | None] = [[[p] for p in line.split()] for line in lines]
    else:
        normalized, norm_stats = normalize_lines(lines)
        stats["dropped_by_normalisation"] = norm_stats.dropped
        words = deduplicate(normalized)
        stats["duplicates_removed"] = len(normalized) - len(words)
        if cfg.text.remove_eval_overlap:
            words, removed = remove_overlap(words, _eval_transcripts(cfg, paths))
            stats["removed_overlapping_evaluation_transcripts"] = removed
            logger.info("[prepare_text] removed %d sentences that occur in evaluation transcripts", removed)
        if cfg.text.max_sentences:
            words = words[: cfg.text.max_sentences]
        sentence_words, lexicon = _word_phones(cfg, words)
    counts = Counter(p for sent in sentence_words if sent for w in sent for p in w)
    rare = {p for p, c in counts.items() if c < cfg.text.min_phone_count}
    keep = [i for i, sent in enumerate(sentence_words) if sent and not any(p in rare for w in sent for p in w)]
    if not keep:
        raise ValueError(f"no usable sentence left in {source} after phonemisation")
    kept_phones = [sentence_words[i] or [] for i in keep]
    stats["sentences_used"] = len(keep)
    vocab = [p for p, _ in counts.most_common() if p not in rare] + [SIL]
    rng = np.random.default_rng(cfg.seed)
    with_sil = [" ".join(insert_silences(sent, sil_prob=cfg.text.sil_prob, rng=rng, sil=SIL)) for sent in kept_phones]
    no_sil = [" ".join(p for w in sent for p in w) for sent in kept_phones]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "phones.txt", "\n".join(with_sil) + "\n")
    atomic_write_text(out / "phones.nosil.txt", "\n".join(no_sil) + "\n")
    atomic_write_text(out / "vocab.txt", "\n".join(vocab) + "\n")
    for order in dict.fromkeys(o for o in (cfg.text.lm_order, cfg.text.decode_lm_order) if o):
        build_lm(out / "phones.nosil.txt", out / f"lm.phn.o{order}", order=order)
    if lexicon is not None and cfg.text.word_lm_order:
        kept_words = [words[i] for i in keep]
        atomic_write_text(out / "words.txt", "\n".join(kept_words) + "\n")
        build_lm(out / "words.txt", out / f"lm.wrd.o{cfg.text.word_lm_order}", order=cfg.text.word_lm_order)
        allowed = set(vocab)
        Lexicon({w: [p for p in prons if set(p) <= allowed] for w, prons in lexicon.items()}).write(
            out / "lexicon.lst"
        )
    atomic_write_json(out / "stats.json", stats)
    mark_done(out, info)
    logger.info("[prepare_text] %d sentences of %d lines (%s), %d phones + %s (%.1f s)", len(keep), len(lines),
                source, len(vocab) - 1, SIL, time.time() - t0)
    return out
