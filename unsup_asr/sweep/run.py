"""``uasr sweep-layers``: the pipeline once per feature layer (and per seed, or any other swept key).

    uasr sweep-layers --config-dir recipes/real_small/conf features=ssl features.path=M.pt layer=0,1,2,3,4 \\
        learner.seed=0,1

Sweep values use hydra's multirun syntax (``a,b,c``, ``range(0,4)``, ``choice(...)``) and are
expanded by hydra's own sweeper (:class:`hydra._internal.core_plugins.basic_sweeper.BasicSweeper`)
into the cartesian product of jobs. Then:

1. ``prepare_data`` and ``prepare_text`` run once in ``out`` (the shared corpus and text).
2. **Every requested layer is extracted once**: jobs that share a featurizer config are grouped and
   their layers come from one forward pass per batch (``extract.layers``) into the shared cache
   ``out/exp/features``.
3. Each job runs segment -> learn -> self_train -> decode -> score in ``out/sweep/<name>/<job>/``, whose
   ``data`` and ``exp/features`` link to the shared ones. A finished job (``result.json``) is
   skipped on re-runs; a killed one resumes through the stages' own markers and checkpoints.
   ``python -m unsup_asr.launch sweep-layers -m hydra/launcher=...`` runs the same jobs as cluster jobs
   (:mod:`unsup_asr.launch`).
   Sweep keys of the later stages (``layer``, ``segmenter.*``, ``learner.*``, ``decode.*``); keys that
   change the prepared corpus or text (``data.*``, ``text.*``) belong in separate runs, since all
   jobs share ``out/data``.
4. Per distinct (featurizer, layer): phone purity and PNMI of k-means clusters against gold
   alignments (:mod:`unsup_asr.sweep.layer_pnmi`) on ``sweep.pnmi_split`` -- needs no GAN training.
5. ``sweep.csv`` (one row per job) and ``sweep.png`` (PER, the unsupervised selection score and
   PNMI against layer).

Only the *unsupervised* selection score (weighted LM perplexity on unlabelled validation audio) may
be used to pick a layer without labels; the PER, PNMI and ``supervised_probe_per`` columns read
gold transcripts/alignments and are for analysis only. ``supervised_probe_per`` is the score
stage's supervised ceiling on the same segments (``score.ceilings``): a generator trained *with*
labels, reported to separate what the features allow from what the GAN finds.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from unsup_asr.cli import load_config
from unsup_asr.config import RunConfig
from unsup_asr.io import atomic_write, atomic_write_json
from unsup_asr.paths import RunPaths
from unsup_asr.stages import decode, extract_features, learn, prepare_data, prepare_text, score, segment, self_train
from unsup_asr.stages.common import read_vocab
from unsup_asr.stages.decode import read_hyps
from unsup_asr.stages.learn import select_score_fn
from unsup_asr.sweep.layer_pnmi import has_alignments, layer_quality

logger = logging.getLogger(__name__)

COLUMNS = ["job", "layer", "per", "wer", "per_phone_lm", "selection_score", "boundary_f1", "segments_per_second",
           "supervised_probe_per", "pnmi", "phone_purity", "cluster_purity", "seconds"]
"""Fixed columns of ``sweep.csv``; one column per swept key is added after ``job``."""


def expand(overrides: list[str]) -> tuple[list[str], list[list[str]]]:
    """Split command-line overrides into the swept keys and the jobs' full override lists (hydra's
    multirun expansion: the cartesian product of all sweep overrides)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    swept = [o.key_or_group for o in parsed if o.is_sweep_override()]
    jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    return swept, jobs


def job_name(job: list[str], swept: list[str]) -> str:
    """Folder name of a job from its swept values, e.g. ``layer3_gan.seed1``."""
    values = dict(o.split("=", 1) for o in job)
    parts = [f"{k}{values[k]}" for k in swept] or ["base"]
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", "_".join(parts))


def selection_score(cfg: RunConfig) -> float:
    """The unsupervised selection score of a finished job: weighted LM perplexity of its final
    model's Viterbi output on the unlabelled valid split (``decode/<valid>.hyp``); comparable across
    jobs whatever the learner."""
    vocab = read_vocab(RunPaths(Path(cfg.out)).text)
    hyps = read_hyps(RunPaths(Path(cfg.out)).decode / f"{cfg.splits.valid}.hyp")
    return float(select_score_fn(cfg, vocab)(list(hyps.values())))


def link_shared(job: Path, shared_out: Path) -> None:
    """Make ``job/data`` and ``job/exp/features`` links to the shared run's corpus/text and feature cache."""
    for target, link in ((shared_out.resolve() / "data", job / "data"),
                         (RunPaths(shared_out.resolve()).features, RunPaths(job).features)):
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise FileExistsError(f"{link} exists and is not a link to {target}; delete the job folder {job}")
        link.symlink_to(target, target_is_directory=True)


def _extract_once(cfgs: list[RunConfig]) -> None:
    """Extract every requested layer once: one pass per featurizer config with all its layers."""
    groups: dict[str, list[RunConfig]] = defaultdict(list)
    for c in cfgs:
        groups[extract_features.config_id(c)].append(c)
    for group in groups.values():
        layers = sorted({c.layer for c in group})
        first = dataclasses.replace(group[0], layer=layers[0],
                                    extract=dataclasses.replace(group[0].extract, layers=layers[1:]))
        logger.info("[sweep] extracting layers %s of %s in one pass", layers, group[0].features.name)
        extract_features.run(first)


def _pnmi(cfg: RunConfig, split: str) -> dict[str, float]:
    folder = extract_features.features_folder(cfg)
    cache = folder / f"pnmi_{split}_k{cfg.sweep.pnmi_clusters}.json"
    if cache.is_file():
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    q = layer_quality(folder, cfg.splits.train, split, RunPaths(Path(cfg.out)).manifest(split),
                      cfg.sweep.pnmi_clusters, cfg.sweep.pnmi_max_frames, cfg.seed)
    atomic_write_json(cache, q)
    return q


def read_cached(path: Path, field: str, value: Any) -> dict[str, Any] | None:
    """The record a finished job wrote to ``path`` when its ``field`` equals ``value`` (the job's
    identity), else ``None`` (missing, or written by a job with other settings)."""
    if not path.is_file():
        return None
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record if record.get(field) == value else None


def run_pipeline(cfg: RunConfig) -> dict[str, Any]:
    """segment -> learn -> self_train -> decode -> score in ``cfg.out`` (see :func:`link_shared`); the
    figures of one job, including the unsupervised selection score of its final model."""
    t0 = time.time()
    for stage in (segment.run, learn.run, self_train.run, decode.run):
        stage(cfg)
    result = json.loads(score.run(cfg).read_text(encoding="utf-8"))
    return {
        "per": result.get("per"), "wer": result.get("wer"), "per_phone_lm": result.get("per_phone_lm"),
        "selection_score": selection_score(cfg), "boundary_f1": result.get("boundary_f1"),
        "segments_per_second": result.get("segments_per_second"),
        "supervised_probe_per": result.get("supervised_ceiling_per_same_segments"),
        "seconds": round(time.time() - t0, 1),
    }


@dataclasses.dataclass(kw_only=True)
class SweepPlan:
    """The jobs of one sweep: the command line expanded, and the config of every job."""

    swept: list[str]
    """The swept keys, in command-line order (they name the job folders)."""
    jobs: list[list[str]]
    """Each job's full override list (its identity in ``result.json``)."""
    names: list[str]
    """Each job's folder name under ``root``."""
    cfgs: list[RunConfig]
    """Each job's config, with ``out`` = ``root / name``."""
    shared: RunConfig
    """The config without the swept keys: its ``out`` holds the shared corpus, text and features."""
    root: Path
    """``out/sweep/<sweep.name>/``."""


def plan_sweep(overrides: list[str], config_dir: str | None, config_name: str) -> SweepPlan:
    """Expand ``overrides`` (hydra's multirun syntax) into the sweep's jobs and compose their configs."""
    swept, jobs = expand(overrides)
    fixed = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in swept]
    shared = load_config(fixed, config_dir, config_name)
    shared.sweep.validate()
    root = Path(shared.out) / "sweep" / shared.sweep.name
    names = [job_name(j, swept) for j in jobs]
    cfgs = [load_config([*j, f"out={root / n}"], config_dir, config_name) for j, n in zip(jobs, names, strict=True)]
    return SweepPlan(swept=swept, jobs=jobs, names=names, cfgs=cfgs, shared=shared, root=root)


def prepare_shared(plan: SweepPlan) -> None:
    """What every job reads: the corpus and text in ``shared.out``, and every requested layer extracted once."""
    logger.info("[sweep] %d job(s) over %s in %s", len(plan.jobs), plan.swept or "nothing", plan.root)
    prepare_data.run(plan.shared)
    prepare_text.run(plan.shared)
    _extract_once([dataclasses.replace(c, out=plan.shared.out) for c in plan.cfgs])


def run_job(cfg: RunConfig, job: list[str], shared_out: Path) -> dict[str, Any]:
    """One job of a sweep in ``cfg.out`` (after :func:`prepare_shared`): its figures, read from its
    ``result.json`` when a job with the same overrides finished there, else computed and written there.
    :func:`run_sweep` calls it job after job; ``python -m unsup_asr.launch sweep-layers`` in one cluster job each."""
    out = Path(cfg.out)
    cached = read_cached(out / "result.json", "overrides", job)
    if cached is not None:
        logger.info("[sweep] %s cached", out.name)
        return dict(cached["result"])
    logger.info("[sweep] job %s: %s", out.name, " ".join(job))
    link_shared(out, shared_out)
    result = run_pipeline(cfg)
    atomic_write_json(out / "result.json", {"overrides": job, "result": result})
    return result


def write_table(plan: SweepPlan) -> Path:
    """``sweep.csv`` and ``sweep.png`` from the finished jobs' ``result.json`` (plus PNMI per layer)."""
    shared = plan.shared
    pnmi_split = shared.sweep.pnmi_split or shared.splits.test
    if shared.sweep.pnmi_split == "none" or not has_alignments(RunPaths(Path(shared.out)).manifest(pnmi_split)):
        logger.info("[sweep] no PNMI: split %r has no gold alignments (set sweep.pnmi_split)", pnmi_split)
        pnmi_split = ""
    rows = []
    for job, name, cfg in zip(plan.jobs, plan.names, plan.cfgs, strict=True):
        record = read_cached(plan.root / name / "result.json", "overrides", job)
        if record is None:
            raise FileNotFoundError(f"sweep job {name} has no result.json for overrides {job}: run the sweep's jobs "
                                    "first (uasr sweep-layers runs them all)")
        values = dict(o.split("=", 1) for o in job)
        row: dict[str, Any] = {"job": name, **{k: values[k] for k in plan.swept}, "layer": cfg.layer,
                               **record["result"]}
        if pnmi_split:
            q = _pnmi(dataclasses.replace(cfg, out=shared.out), pnmi_split)
            row.update({k: q[k] for k in ("pnmi", "phone_purity", "cluster_purity")})
        logger.info("[sweep] %s: PER %.1f%%, selection score %.2f%s", name, 100 * row["per"], row["selection_score"],
                    f", PNMI {row['pnmi']:.3f}" if "pnmi" in row else "")
        rows.append(row)
    columns = ["job", *plan.swept, *[c for c in COLUMNS[1:] if c not in plan.swept]]
    csv_path = plan.root / "sweep.csv"

    def write_csv(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    atomic_write(csv_path, write_csv)
    plot_sweep(rows, plan.root / "sweep.png", pnmi_split)
    logger.info("[sweep] %d job(s) -> %s, %s", len(rows), csv_path, plan.root / "sweep.png")
    return csv_path


def run_sweep(overrides: list[str], config_dir: str | None, config_name: str) -> Path:
    """Expand ``overrides``, run every job, write ``sweep.csv`` and ``sweep.png``; returns the CSV."""
    plan = plan_sweep(overrides, config_dir, config_name)
    prepare_shared(plan)
    for cfg, job in zip(plan.cfgs, plan.jobs, strict=True):
        run_job(cfg, job, Path(plan.shared.out))
    return write_table(plan)


def plot_sweep(rows: list[dict[str, Any]], path: Path, pnmi_split: str) -> None:
    """PER (mean and each job), unsupervised selection score and PNMI against layer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_layer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_layer[int(r["layer"])].append(r)
    layers = sorted(by_layer)
    panels = [("per", "PER (labels; analysis)"), ("selection_score", "selection score (unsupervised)")]
    if pnmi_split:
        panels.append(("pnmi", f"PNMI on {pnmi_split} (labels; analysis)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for layer in layers:
            ys = [float(r[key]) for r in by_layer[layer] if r.get(key) is not None]
            ax.scatter([layer] * len(ys), ys, color="tab:gray", s=12)
        means = [_mean([r.get(key) for r in by_layer[k]]) for k in layers]
        ax.plot(layers, means, marker="o")
        if key == "per":
            probe = [_mean([r.get("supervised_probe_per") for r in by_layer[k]]) for k in layers]
            if not all(math.isnan(p) for p in probe):
                ax.plot(layers, probe, marker="s", linestyle="--", label="supervised probe (labels)")
                ax.legend(fontsize=8)
        ax.set(xlabel="layer", title=title)
        ax.set_xticks(layers)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def _mean(values: list[Any]) -> float:
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else math.nan
