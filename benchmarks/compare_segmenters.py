"""Boundary quality of several segmenters on one run's features (gold alignments used to score only).

For each ``name[:key=value,...]`` given, runs the ``segment`` stage with that segmenter (fit on the
unlabelled training split) and scores its boundaries on an evaluation split with gold phone
alignments: precision / recall / F1 / R-value at ``score.tolerance_ms`` (harsh and lenient) and
segments per second. Writes a JSON table and prints a Markdown one::

    python benchmarks/compare_segmenters.py --config-dir recipes/real_small/conf --split timit \\
        --segmenters kmeans_join uniform uniform:frames=5 -- out=exp_real_small
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from segmentation.base import SEGMENTERS
from unsup_asr.cli import load_config
from unsup_asr.config import with_overrides
from unsup_asr.data.manifest import read_manifest
from unsup_asr.io import atomic_write_json
from unsup_asr.paths import RunPaths
from unsup_asr.stages import extract_features, segment
from unsup_asr.stages.score import segmentation_scores

logger = logging.getLogger("compare_segmenters")


def _segmenter_config(spec: str) -> Any:
    """``name[:key=value,...]`` -> that segmenter's typed config."""
    name, _, rest = spec.partition(":")
    cfg = with_overrides(SEGMENTERS.get(name).config(), [kv for kv in rest.split(",") if kv])
    cfg.validate()
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-dir", default="recipes/real_small/conf")
    parser.add_argument("--split", default="timit", help="evaluation split with gold alignments")
    parser.add_argument("--segmenters", nargs="+", default=["kmeans_join", "uniform"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/compare_segmenters.json"))
    parser.add_argument("overrides", nargs="*", help="recipe overrides key=value (e.g. out=...)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rows = []
    for spec in args.segmenters:
        cfg = load_config(list(args.overrides), args.config_dir, "config")
        cfg.segmenter = _segmenter_config(spec)  # replaces the recipe's segmenter and its fields
        extract_features.run(cfg)
        segment.run(cfg)
        segs = segment.load_segments(segment.segments_path(cfg, args.split))
        utts = {u.id: u for u in read_manifest(RunPaths(Path(cfg.out)).manifest(args.split))}
        scores = segmentation_scores(segs, utts, cfg.score.tolerance_ms)
        if "boundary_harsh" not in scores:
            raise ValueError(f"split {args.split!r} has utterances without gold phone alignments: pick one that has")
        row = {"segmenter": spec, "config": asdict(cfg.segmenter), "harsh": scores["boundary_harsh"],
               "lenient": scores["boundary_lenient"], "segments_per_second": scores["segments_per_second"],
               "gold_phones_per_second": scores["gold_phones_per_second"]}
        rows.append(row)
    atomic_write_json(args.out, {"split": args.split, "rows": rows})
    print(f"| segmenter ({args.split}) | P | R | F1 | R-value | F1 lenient | seg/s (gold) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        h = r["harsh"]
        print(f"| {r['segmenter']} | {h['precision']:.3f} | {h['recall']:.3f} | {h['f1']:.3f} | {h['r_value']:.3f} "
              f"| {r['lenient']['f1']:.3f} | {r['segments_per_second']:.1f} ({r['gold_phones_per_second']:.1f}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
