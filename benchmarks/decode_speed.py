"""Decoding speed: utterances per second of the Viterbi, phone-LM and lexicon + word-LM decoders.

Runs on a finished run folder (its selected generator, segments, LMs and lexicon), so the figures
reflect real output distributions, vocabulary and lexicon sizes::

    python benchmarks/decode_speed.py --run exp_real_small --split kathleen --out benchmarks/results/decode_speed.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from gan.checkpoint import load_generator
from gan.generator import predict_log_probs
from unsup_asr.decode.lexicon_lm import LexiconDecoder, LexiconDecoderConfig, PhoneLMDecoder, PhoneLMDecoderConfig
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.io import atomic_write_json
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import read_vocab
from unsup_asr.text.lexicon import Lexicon

logger = logging.getLogger("decode_speed")


def _segments(run: Path, split: str) -> Path:
    found = sorted((run / "exp" / "seg").glob(f"*/{split}.npz"))
    if not found:
        raise FileNotFoundError(f"no segments for split {split!r} under {run}/exp/seg: run the recipe first")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="finished run folder (out=...)")
    parser.add_argument("--split", default="test", help="split whose segments are decoded")
    parser.add_argument("--beam", type=int, default=50, help="beam size of the LM decoders")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/decode_speed.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from unsup_asr.stages.segment import load_segments

    paths = RunPaths(args.run)
    vocab = read_vocab(paths.text)
    segs = load_segments(_segments(args.run, args.split))
    log_probs = predict_log_probs(load_generator(paths.gan / "best.pt"), segs.embeddings)
    figures: dict[str, object] = {"run": str(args.run), "split": args.split, "utterances": len(log_probs),
                                  "segments": int(sum(len(lp) for lp in log_probs)), "beam": args.beam}
    t0 = time.perf_counter()
    for lp in log_probs:
        decode_one(lp, vocab)
    figures["viterbi_utts_per_second"] = len(log_probs) / (time.perf_counter() - t0)
    phone_lms = sorted(paths.text.glob("lm.phn.o*.bin"))
    if phone_lms:
        decoder = PhoneLMDecoder(phone_lms[-1], vocab, PhoneLMDecoderConfig(beam_size=args.beam, progress=False))
        t0 = time.perf_counter()
        decoder.decode(log_probs)
        figures["phone_lm_utts_per_second"] = len(log_probs) / (time.perf_counter() - t0)
        figures["phone_lm"] = phone_lms[-1].name
    word_lms = sorted(paths.text.glob("lm.wrd.o*.bin"))
    if word_lms and (paths.text / "lexicon.lst").is_file():
        lexicon = Lexicon.read(paths.text / "lexicon.lst")
        words = LexiconDecoder(lexicon, word_lms[-1], vocab, LexiconDecoderConfig(beam_size=args.beam, progress=False))
        t0 = time.perf_counter()
        words.decode(log_probs)
        figures["words_utts_per_second"] = len(log_probs) / (time.perf_counter() - t0)
        figures["lexicon_words"] = len(lexicon)
    atomic_write_json(args.out, figures)
    logger.info("decode speed: %s -> %s", json.dumps(figures), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
