"""Layer diagnostic without GAN training: phone purity and PNMI of k-means clusters of each layer.

For a recipe's featurizer and each requested layer: extract the features (cached like the
``extract_features`` stage), fit k-means on frames of the (unlabelled) training split, assign the
frames of an evaluation split that has gold phone alignments, and score the clusters against the
gold frame labels (:mod:`unsup_asr.metrics.pnmi`; silence frames left out). Labels are used only
to *score*, never to fit: an analysis tool, not part of unsupervised training::

    python benchmarks/layer_pnmi.py --config-dir recipes/real_small/conf --split timit --layers 0 \\
        --out benchmarks/results/layer_pnmi.json -- out=exp_real_small
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import faiss
import numpy as np

from unsup_asr.cli import load_config
from unsup_asr.data.manifest import read_manifest
from unsup_asr.features.cache import FeatureSet
from unsup_asr.io import atomic_write_json
from unsup_asr.metrics.pnmi import score_clusters
from unsup_asr.paths import RunPaths
from unsup_asr.stages import extract_features
from unsup_asr.stages.ceilings import frame_labels

logger = logging.getLogger("layer_pnmi")


def layer_quality(folder: Path, train: str, split: str, manifest: Path, clusters: int, max_frames: int,
                  seed: int) -> dict[str, float]:
    """k-means on ``train`` frames of the cache ``folder``; purity/PNMI on ``split``'s aligned frames."""
    fit = FeatureSet(folder, train)
    frames = np.concatenate([fit[i] for i in range(len(fit))]).astype(np.float32)
    rng = np.random.default_rng(seed)
    frames = frames[rng.permutation(len(frames))[:max_frames]]
    km = faiss.Kmeans(frames.shape[1], clusters, niter=20, seed=seed, verbose=False)
    km.train(np.ascontiguousarray(frames))
    fs = FeatureSet(folder, split)
    utts = {u.id: u for u in read_manifest(manifest)}
    if not all(utts[u].alignment for u in fs.ids):
        raise ValueError(f"split {split!r} has utterances without gold phone alignments: pick one that has them")
    phones = sorted({p for u in utts.values() for _, _, p in u.alignment or []} | {"sil"})
    index = {p: i for i, p in enumerate(phones)}
    index["<SIL>"] = index["sil"]  # frame_labels fills unaligned frames with <SIL>
    labels, assigned = [], []
    for i, uid in enumerate(fs.ids):
        x = np.ascontiguousarray(fs[i].astype(np.float32))
        assigned.append(km.index.search(x, 1)[1][:, 0].astype(np.int64))
        labels.append(frame_labels(utts[uid], len(x), fs.frame_shift_s, index))
    q = score_clusters(assigned, labels, clusters, len(phones), ignore_phone=index["sil"])
    return dataclasses.asdict(q)


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
