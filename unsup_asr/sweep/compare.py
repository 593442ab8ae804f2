"""``uasr compare-segmenters``: every segmenter on the same features, one table, one figure.

    uasr compare-segmenters --config-dir recipes/real_small/conf out=exp_real_small compare.split=timit \\
        'compare.segmenters=[recipe,uniform,"uniform:frames=5",sawv,"rl:policy=exp_real_small/exp/rl/iter1/policy.pt"]'

For each segmenter (``name[:key=value,...]``, quoted when it holds ``=``; see
:class:`~unsup_asr.sweep.config.CompareConfig`),
in ``out/compare/<name>/<segmenter>/`` whose ``data`` and ``exp/features`` link to the run's:

1. the ``segment`` stage (fit on the unlabelled training split, segment every split);
2. boundary precision / recall / F1 / R-value at ``score.tolerance_ms``, harsh and lenient, and
   segments per second on ``compare.split`` against its gold alignments (scoring only);
3. with ``compare.gan=true``: the run's learner and self-training (unsupervised selection),
   ``decode`` and ``score`` for PER / WER and the unsupervised selection score.

Writes ``compare.csv``, ``compare.md`` (a Markdown table) and ``boundaries.png`` (gold and every
segmenter's boundaries over the spectrogram of a few utterances). Finished segmenters are skipped
on re-runs (``result.json``). The run's own segments under ``out/exp/seg`` are never touched.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from unsup_asr.cli import load_config
from unsup_asr.data.audio import load_audio
from unsup_asr.data.manifest import Utterance, read_manifest
from unsup_asr.data.timemap import TimeMap
from unsup_asr.features.frames import SAMPLE_RATE, boundaries_to_seconds
from unsup_asr.io import atomic_write, atomic_write_json, atomic_write_text
from unsup_asr.metrics.boundary import alignment_boundaries
from unsup_asr.paths import RunPaths
from unsup_asr.stages import extract_features, prepare_data, prepare_text, segment
from unsup_asr.stages.score import segmentation_scores
from unsup_asr.sweep.run import link_shared, read_cached, run_pipeline

logger = logging.getLogger(__name__)

RECIPE = "recipe"
"""The segmenter spec that stands for the run's own configured segmenter."""


def spec_overrides(spec: str) -> list[str]:
    """``name[:key=value,...]`` -> hydra overrides (``segmenter=name``, ``segmenter.key=value``)."""
    name, _, rest = spec.partition(":")
    fields = [f"segmenter.{kv.strip()}" for kv in rest.split(",") if kv.strip()]
    return fields if name == RECIPE else [f"segmenter={name}", *fields]


def job_base(overrides: list[str], spec: str) -> list[str]:
    """The command line's overrides for one spec: ``segmenter`` ones apply to ``recipe`` only (any
    other spec replaces the segmenter whole)."""
    if spec.partition(":")[0] == RECIPE:
        return list(overrides)
    return [o for o in overrides if not o.lstrip("+~").startswith(("segmenter.", "segmenter="))]


def spec_folder(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", spec.replace(":", "_").replace(",", "_"))


def run_compare(overrides: list[str], config_dir: str | None, config_name: str) -> Path:
    """Segment (and optionally train + score) with every segmenter; returns ``compare.csv``."""
    shared = load_config(overrides, config_dir, config_name)
    ccfg = shared.compare
    ccfg.validate()
    split = ccfg.split or shared.splits.test
    root = Path(shared.out) / "compare" / ccfg.name
    paths = RunPaths(Path(shared.out))
    prepare_data.run(shared)
    extract_features.run(shared)
    if ccfg.gan:
        prepare_text.run(shared)
    utts = {u.id: u for u in read_manifest(paths.manifest(split))}
    if not all(u.alignment for u in utts.values()):
        raise ValueError(f"split {split!r} has utterances without gold phone alignments: set compare.split to one "
                         "that has them (e.g. the TIMIT sample or the demo corpus's test split)")
    rows: list[dict[str, Any]] = []
    boundaries: dict[str, dict[str, list[float]]] = {}
    for i, spec in enumerate(ccfg.segmenters, start=1):
        job = root / spec_folder(spec)
        cfg = load_config([*job_base(overrides, spec), *spec_overrides(spec), f"out={job}"], config_dir, config_name)
        done = job / "result.json"
        key = {"spec": spec, "segmenter": dataclasses.asdict(cfg.segmenter), "split": split, "gan": ccfg.gan}
        link_shared(job, Path(shared.out))
        cached = read_cached(done, "key", key)
        if cached is not None:
            logger.info("[compare] %d/%d %s cached", i, len(ccfg.segmenters), spec)
        else:
            logger.info("[compare] %d/%d %s (%s)", i, len(ccfg.segmenters), spec, cfg.segmenter.name)
            segment.run(cfg)
        segs = segment.load_segments(segment.segments_path(cfg, split))  # read once: scores and the figure
        if cached is not None:
            row = cached["row"]
        else:
            scores = segmentation_scores(segs, utts, cfg.score.tolerance_ms)
            h, le = scores["boundary_harsh"], scores["boundary_lenient"]
            row = {"segmenter": spec, "precision": h["precision"], "recall": h["recall"], "f1": h["f1"],
                   "r_value": h["r_value"], "f1_lenient": le["f1"], "r_value_lenient": le["r_value"],
                   "segments_per_second": scores["segments_per_second"],
                   "gold_phones_per_second": scores["gold_phones_per_second"]}
            if ccfg.gan:
                result = run_pipeline(cfg)
                row.update({k: result[k] for k in ("per", "wer", "per_phone_lm", "selection_score")})
            atomic_write_json(done, {"key": key, "row": row})
        boundaries[spec] = {
            u: TimeMap.of(utts[u]).to_original(np.asarray(boundaries_to_seconds(b, segs.frame_shift_s))).tolist()
            for u, b in zip(segs.ids, segs.boundaries, strict=True)
        }
        logger.info("[compare] %s: F1 %.3f (P %.3f, R %.3f, R-value %.3f), %.1f seg/s%s", spec, row["f1"],
                    row["precision"], row["recall"], row["r_value"], row["segments_per_second"],
                    f", PER {100 * row['per']:.1f}%" if "per" in row else "")
        rows.append(row)
    _write_tables(rows, root, split, ccfg.gan)
    if ccfg.plot_utterances:
        plot_boundaries([utts[u] for u in sorted(utts)[: ccfg.plot_utterances]], boundaries, root / "boundaries.png")
    logger.info("[compare] %d segmenter(s) on %s -> %s", len(rows), split, root / "compare.md")
    return root / "compare.csv"


def _write_tables(rows: list[dict[str, Any]], root: Path, split: str, gan: bool) -> None:
    columns = ["segmenter", "precision", "recall", "f1", "r_value", "f1_lenient", "r_value_lenient",
               "segments_per_second", "gold_phones_per_second"]
    if gan:
        columns += ["per", "wer", "per_phone_lm", "selection_score"]

    def write_csv(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    atomic_write(root / "compare.csv", write_csv)
    head = f"| segmenter ({split}) | P | R | F1 | R-value | F1 lenient | seg/s (gold) |"
    sep = "|---|---|---|---|---|---|---|"
    if gan:
        head += " PER | WER | selection score (unsup.) |"
        sep += "---|---|---|"
    lines = [head, sep]
    for r in rows:
        line = (f"| {r['segmenter']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['r_value']:.3f} "
                f"| {r['f1_lenient']:.3f} | {r['segments_per_second']:.1f} ({r['gold_phones_per_second']:.1f}) |")
        if gan:
            line += f" {100 * r['per']:.1f} % | {100 * r['wer']:.1f} % | {r['selection_score']:.2f} |"
        lines.append(line)
    atomic_write_text(root / "compare.md", "\n".join(lines) + "\n")


def plot_boundaries(utts: list[Utterance], boundaries: dict[str, dict[str, list[float]]], path: Path) -> None:
    """One panel per utterance: its spectrogram, gold phone boundaries (with labels) above it, and
    each segmenter's boundaries in its own band below (original time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = list(boundaries)
    fig, axes = plt.subplots(len(utts), 1, figsize=(12, 2.2 + 0.35 * len(specs)) if len(utts) == 1 else
                             (12, len(utts) * (2.2 + 0.35 * len(specs))), squeeze=False)
    for ax, utt in zip(axes[:, 0], utts, strict=True):
        wav = load_audio(utt.audio)
        # a -100 dB dither keeps digital silence (zero power) finite on the dB scale
        dither = 1e-5 * np.random.default_rng(0).standard_normal(len(wav))
        ax.specgram(wav + dither, NFFT=400, Fs=SAMPLE_RATE, noverlap=240, cmap="Greys", scale="dB")
        top = SAMPLE_RATE / 2
        band = top / 8
        ax.set_ylim(-band * len(specs), top)
        for start, _end, phone in utt.alignment or []:
            ax.axvline(start, ymin=0.0, ymax=1.0, color="tab:red", linewidth=0.6, alpha=0.6)
            ax.text(start, top * 0.97, phone, fontsize=6, va="top", color="tab:red")
        for j, spec in enumerate(specs):
            y0, y1 = -band * (j + 1), -band * j
            ax.vlines(boundaries[spec].get(utt.id, []), y0, y1, color=f"C{j}", linewidth=1.0)
            ax.text(0.0, (y0 + y1) / 2, spec, fontsize=7, va="center", ha="right", color=f"C{j}")
        gold = alignment_boundaries(utt.alignment or [])
        ax.set(title=f"{utt.id}: gold boundaries (red, {len(gold)}) and each segmenter's (bands below)",
               xlabel="seconds", yticks=[])
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
