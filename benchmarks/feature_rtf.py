"""Feature extraction speed: real-time factor of the ``hf`` featurizer against a bare forward pass.

Builds randomly initialised wav2vec 2.0 models of Base size (12 blocks, 768 dims) and Large size
(24 blocks, 1024 dims, pre-LN, as wav2vec-U's LV-60k), saves them locally, and times on the same
audio (``--utts`` utterances of ``--seconds`` s of noise):

- ``bare``: ``model(wavs)`` of the transformers model, all blocks, no hidden states kept;
- ``top``: the featurizer asked for the top layer (all blocks; overhead = top / bare - 1, target < 10 %);
- ``low``: the featurizer asked for a low layer (``--low-layer``; blocks above it are not run).

RTF = processing seconds / audio seconds (lower is faster). One utterance per call, as the
``extract_features`` stage does; the best of ``--repeats`` timings is kept::

    python benchmarks/feature_rtf.py --out benchmarks/results/feature_rtf.json
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoModel, Wav2Vec2Config

from unsup_asr.features.hf import HfConfig, HfFeaturizer
from unsup_asr.io import atomic_write_json

logger = logging.getLogger("feature_rtf")

SIZES = {
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
              "do_stable_layer_norm": True, "feat_extract_norm": "layer"},
}


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(size: str, wavs: list[torch.Tensor], low_layer: int, repeats: int, folder: Path) -> dict[str, float]:
    torch.manual_seed(0)
    model = AutoModel.from_config(Wav2Vec2Config(**SIZES[size]))  # type: ignore[no-untyped-call]
    model.save_pretrained(folder / size)
    feat = HfFeaturizer(HfConfig(path=str(folder / size), device="cpu", normalize_waveform=False))
    bare_model = feat.model
    audio_s = sum(len(w) for w in wavs) / 16000

    def bare() -> None:
        with torch.inference_mode():
            for w in wavs:
                bare_model(w[None])

    def layer(k: int) -> Callable[[], None]:
        def run() -> None:
            for w in wavs:
                feat(w[None], torch.tensor([len(w)]), [k])
        return run

    bare()  # warm-up
    t_bare = _best_time(bare, repeats)
    t_top = _best_time(layer(feat.num_layers), repeats)
    t_low = _best_time(layer(low_layer), repeats)
    return {
        "blocks": feat.num_layers,
        "rtf_bare_forward": t_bare / audio_s,
        "rtf_featurizer_top_layer": t_top / audio_s,
        "overhead_top_vs_bare": t_top / t_bare - 1.0,
        f"rtf_featurizer_layer_{low_layer}": t_low / audio_s,
        f"layer_{low_layer}_time_fraction_of_top": t_low / t_top,
        "blocks_fraction": low_layer / feat.num_layers,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["base", "large"], choices=sorted(SIZES))
    parser.add_argument("--utts", type=int, default=3, help="utterances per timing")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per utterance")
    parser.add_argument("--low-layer", type=int, default=3, help="the low layer timed against the top one")
    parser.add_argument("--repeats", type=int, default=2, help="timings per setting (best kept)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/feature_rtf.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    gen = torch.Generator().manual_seed(0)
    wavs = [0.1 * torch.randn(int(16000 * args.seconds), generator=gen) for _ in range(args.utts)]
    figures: dict[str, object] = {"device": "cpu", "threads": torch.get_num_threads(), "utts": args.utts,
                                  "seconds_per_utt": args.seconds}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            figures[size] = measure(size, wavs, args.low_layer, args.repeats, Path(tmp))
            logger.info("%s: %s", size, json.dumps(figures[size]))
    atomic_write_json(args.out, figures)
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
