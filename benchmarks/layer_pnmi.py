"""Layer diagnostic without GAN training: phone purity and PNMI of k-means clusters of each layer.

For a recipe's featurizer and each requested layer: extract the features (cached like the
``extract_features`` stage) and score k-means clusters of them against gold phones
(:func:`unsup_asr.sweep.layer_pnmi.layer_quality`). Labels are used only to *score*, never to
fit: an analysis tool, not part of unsupervised training::

    python benchmarks/layer_pnmi.py --config-dir recipes/real_small/conf --split timit --layers 0 \\
        --out benchmarks/results/layer_pnmi.json -- out=exp_real_small
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from unsup_asr.cli import load_config
from unsup_asr.io import atomic_write_json
from unsup_asr.paths import RunPaths
from unsup_asr.stages import extract_features
from unsup_asr.sweep.layer_pnmi import layer_quality

logger = logging.getLogger("layer_pnmi")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-dir", default="recipes/real_small/conf", help="recipe config folder")
    parser.add_argument("--split", default="timit", help="evaluation split with gold alignments")
    parser.add_argument("--layers", type=int, nargs="+", default=[0], help="layer indices to score")
    parser.add_argument("--clusters", type=int, default=100, help="k-means clusters (HuBERT uses 100-500)")
    parser.add_argument("--max-frames", type=int, default=100_000, help="training frames used to fit k-means")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/layer_pnmi.json"))
    parser.add_argument("overrides", nargs="*", help="recipe overrides key=value (e.g. out=... features=hf ...)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    results: dict[str, object] = {}
    for layer in args.layers:
        cfg = load_config([*args.overrides, f"layer={layer}"], args.config_dir, "config")
        folder = extract_features.run(cfg)
        paths = RunPaths(Path(cfg.out))
        q = layer_quality(folder, cfg.splits.train, args.split, paths.manifest(args.split), args.clusters,
                          args.max_frames, cfg.seed)
        results[str(layer)] = q
        logger.info("layer %d (%s): phone purity %.3f, cluster purity %.3f, PNMI %.3f", layer, cfg.features.name,
                    q["phone_purity"], q["cluster_purity"], q["pnmi"])
    atomic_write_json(args.out, {"split": args.split, "clusters": args.clusters, "layers": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
