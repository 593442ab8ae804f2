"""Stage 6: decode the outputs of the run's phone model -> ``out/exp/decode/``.

The model is self-training's final model, or the learner's when there is no self-training
(:func:`unsup_asr.stages.common.model_path`); a segment model reads the segment embeddings, a
frame model the cached frame features.

For ``valid`` and every evaluation split:

- ``<split>.hyp``: Viterbi phones (argmax per segment, repeats merged, silence removed);
- ``<split>.lm.hyp``: phones from the phone-LM beam decoder, when ``decode.phone_lm`` and
  ``text.decode_lm_order`` > 0;
- ``<split>.wrd``: words from the lexicon + word-LM decoder, when ``decode.words`` and the text
  stage built a word LM. Its ``lm_weight`` and ``word_score`` are tuned **without labels** on the
  ``valid`` outputs (:mod:`unsup_asr.decode.tuning`); the grid goes to ``tuning.json``.

Each line is ``<utt_id>\\t<token> <token> ...``. ``speed.json`` records utterances per second.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from gan.phone_model import load_phone_model, predict_log_probs
from unsup_asr.config import RunConfig
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.io import atomic_write_json, atomic_write_text
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import model_inputs, model_path, read_vocab, viterbi_config
from unsup_asr.stages.prepare_text import lm_path, word_lm_path

logger = logging.getLogger(__name__)


def read_hyps(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        raise FileNotFoundError(f"hypotheses {path} not found; run the decode stage first")
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        utt, _, tokens = line.partition("\t")
        out[utt] = tokens.split()
    return out


def _write(path: Path, ids: list[str], hyps: list[list[str]]) -> None:
    atomic_write_text(path, "".join(f"{u}\t{' '.join(h)}\n" for u, h in zip(ids, hyps, strict=True)))


def run(cfg: RunConfig) -> Path:
    cfg.decode.validate()
    paths = RunPaths(Path(cfg.out))
    t0 = time.time()
    model = load_phone_model(model_path(cfg))
    vocab = read_vocab(paths.text)
    if model.vocab != vocab:
        raise ValueError(f"the phone model {model_path(cfg)} outputs {len(model.vocab)} phones but the text has "
                         f"{len(vocab)}: it was trained on another prepare_text run; re-run learn")
    splits = list(dict.fromkeys([cfg.splits.valid, *cfg.splits.tests()]))
    outputs: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    for split in splits:
        ids, inputs = model_inputs(cfg, model.unit, split)
        outputs[split] = (ids, predict_log_probs(model, inputs))
        viterbi = viterbi_config(cfg, model.unit)
        _write(paths.decode / f"{split}.hyp", ids, [decode_one(lp, vocab, viterbi) for lp in outputs[split][1]])
    speed: dict[str, float] = {}
    phone_lm = lm_path(paths.text, cfg.text.decode_lm_order)
    if cfg.decode.phone_lm and cfg.text.decode_lm_order and phone_lm.is_file():
        from unsup_asr.decode.lexicon_lm import PhoneLMDecoder, PhoneLMDecoderConfig

        weight = cfg.decode.phone_lm_weight if model.unit == "segment" else cfg.decode.frame_phone_lm_weight
        phone_decoder = PhoneLMDecoder(phone_lm, vocab, PhoneLMDecoderConfig(
            lm_weight=weight, beam_size=cfg.decode.beam_size))
        for split in splits:
            ids, log_probs = outputs[split]
            t1 = time.time()
            _write(paths.decode / f"{split}.lm.hyp", ids, phone_decoder.decode(log_probs))
            speed[f"phone_lm_utts_per_second/{split}"] = len(ids) / max(time.time() - t1, 1e-9)
    word_lm = word_lm_path(paths.text, cfg.text.word_lm_order)
    if cfg.decode.words and cfg.text.word_lm_order and word_lm.is_file():
        speed |= _decode_words(cfg, paths, vocab, word_lm, splits, outputs)
    atomic_write_json(paths.decode / "speed.json", speed)
    decoders = ["viterbi", *sorted({k.split("_utts")[0] for k in speed})]
    logger.info("[decode] %s on %s -> %s (%.1f s)", ", ".join(decoders), ", ".join(splits), paths.decode,
                time.time() - t0)
    return paths.decode


def _decode_words(
    cfg: RunConfig, paths: RunPaths, vocab: list[str], word_lm: Path, splits: list[str],
    outputs: dict[str, tuple[list[str], list[np.ndarray]]],
) -> dict[str, float]:
    """Tune the word decoder on unlabelled ``valid`` outputs, then decode every split into words."""
    from unsup_asr.decode.lexicon_lm import LexiconDecoder, LexiconDecoderConfig
    from unsup_asr.decode.tuning import TuningConfig, tune_lexicon_decoder
    from unsup_asr.text.lexicon import Lexicon
    from unsup_asr.text.lm import KenLM

    decoder = LexiconDecoder(Lexicon.read(paths.text / "lexicon.lst"), word_lm, vocab,
                             LexiconDecoderConfig(beam_size=cfg.decode.beam_size))
    tuning = tune_lexicon_decoder(decoder, outputs[cfg.splits.valid][1], KenLM(word_lm), TuningConfig(
        lm_weights=list(cfg.decode.lm_weights), word_scores=list(cfg.decode.word_scores)))
    best = tuning.best
    atomic_write_json(paths.decode / "tuning.json", {
        "rule": "unsupervised (no transcripts): min ln(word-LM ppl) * phone edit rate to Viterbi pseudo-labels",
        "split": cfg.splits.valid, "best": {"lm_weight": best.lm_weight, "word_score": best.word_score},
        "grid": tuning.rows()})
    logger.info("[decode] word decoder tuned without labels on %s: lm_weight %.2f, word_score %.2f",
                cfg.splits.valid, best.lm_weight, best.word_score)
    decoder = decoder.with_options(lm_weight=best.lm_weight, word_score=best.word_score)
    speed: dict[str, float] = {}
    for split in splits:
        ids, log_probs = outputs[split]
        t1 = time.time()
        _write(paths.decode / f"{split}.wrd", ids, [h.words for h in decoder.decode(log_probs)])
        speed[f"words_utts_per_second/{split}"] = len(ids) / max(time.time() - t1, 1e-9)
    return speed
