"""``uasr ssl-pretrain``: HuBERT-style pre-training of the library's own SSL model, without labels.

For each iteration of ``cfg.ssl.iterations``:

1. **Targets.** k-means (``num_clusters``) on MFCC+Δ+ΔΔ frames (first iteration) or on
   ``target_layer`` of the previous iteration's model, fitted on a frame sample and assigned to
   every frame of the pre-training audio. Saved in ``iter<i>/targets.npz``.
2. **Masked prediction.** A fresh :class:`~unsup_asr.ssl.model.SslModel` (or, with ``init: previous``,
   the previous iteration's model with a new head) sees the log-mel frames
   with about half of them replaced by spans of a mask embedding, and is trained with cross-entropy
   to predict the k-means target of every *masked* frame (HuBERT's α = 1 loss). AdamW, linear
   warm-up then linear decay over the iteration, where progress is the larger of the fraction of
   epochs done and the fraction of ``max_seconds`` spent, so the schedule completes within the
   wall-clock budget.
3. **Monitoring** (unsupervised): masked-frame target accuracy on ``monitor_split`` after each
   epoch, in ``history.jsonl`` and ``curves.png``. No transcript is read anywhere.

Writes ``out/exp/ssl/iter<i>/{targets.npz, last.pt, model.pt, history.jsonl, curves.png, .done}``
and copies the last iteration's checkpoint to ``out/exp/ssl/model.pt``. A killed run resumes from
the last finished epoch (``last.pt``); finished iterations are skipped.

**Data-parallel** under ``torchrun`` (``torchrun --nproc_per_node=N -m unsup_asr.cli ssl-pretrain ...``): each
of the N processes trains a :class:`~torch.nn.parallel.DistributedDataParallel` copy of the model (gloo on CPU,
nccl on CUDA, one GPU per process) on every N-th batch of the same shuffled batch list, so an epoch takes 1/N
of the updates and each update averages the gradients of N batches (``ssl.batch_frames`` per process). Rank 0
alone fits the k-means targets and writes every file; the ranks agree on the wall-clock budget at every
update. ``last.pt`` also keeps each rank's random state, so a killed run resumes with the same number of
processes as if it had not stopped (another number of processes resumes too, with fresh per-rank streams).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from unsup_asr.config import RunConfig
from unsup_asr.data.audio import load_utterance
from unsup_asr.data.manifest import read_manifest
from unsup_asr.features.mfcc import MfccConfig, MfccFeaturizer
from unsup_asr.io import atomic_write, atomic_write_json, atomic_write_text, is_done, mark_done
from unsup_asr.kmeans import assign, fit_kmeans, sample_frames
from unsup_asr.paths import RunPaths
from unsup_asr.ssl.config import SslConfig, SslIterationConfig
from unsup_asr.ssl.distributed import Ranks, process_group
from unsup_asr.ssl.masking import span_mask
from unsup_asr.ssl.model import SslModel, frontend, load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)


class MaskedLogits(nn.Module):
    """``model.logits`` as a module's forward, so that DistributedDataParallel averages its gradients."""

    def __init__(self, model: SslModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, lens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model.logits(x, lens, mask)


def load_frames(manifests: list[Path], featurizer: MfccFeaturizer, desc: str) -> list[torch.Tensor]:
    """Front-end (or MFCC) frames ``(T_i, D)`` float32 of every utterance of ``manifests``."""
    out = []
    utts = [u for m in manifests for u in read_manifest(m)]
    for utt in tqdm(utts, desc=desc, unit="utt", leave=False):
        wav = torch.from_numpy(load_utterance(utt))
        try:
            feats, lens = featurizer(wav[None], torch.tensor([wav.shape[0]]), [0])[0]
        except ValueError as e:
            raise ValueError(f"{utt.audio} (utterance {utt.id}): {e}") from e
        out.append(feats[0, : int(lens[0])])
    return out


@torch.inference_mode()
def layer_frames(model: SslModel, frames: list[torch.Tensor], layer: int, device: torch.device) -> list[np.ndarray]:
    """``layer`` of ``model`` for every utterance, ``(T_i, dim)`` float32 numpy."""
    model.eval().to(device)
    out = []
    for x in tqdm(frames, desc=f"layer {layer}", unit="utt", leave=False):
        h = model(x[None].to(device), torch.tensor([x.shape[0]], device=device), [layer])[layer]
        out.append(h[0].float().cpu().numpy())
    return out


def length_batches(lens: list[int], batch_frames: int, max_frames: int, rng: np.random.Generator) -> list[list[int]]:
    """Utterance indices grouped by length so that ``len(batch) * longest <= batch_frames``
    (lengths capped at ``max_frames``), in shuffled batch order."""
    order = np.argsort([min(n, max_frames) for n in lens], kind="stable")
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order.tolist():
        n = min(lens[i], max_frames)
        if cur and (len(cur) + 1) * n > batch_frames:
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)  # type: ignore[arg-type]
    return batches


def collate(frames: list[torch.Tensor], targets: list[torch.Tensor], idx: list[int], max_frames: int,
            rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded ``(x (B, T, D), y (B, T) int64, lens (B,))``; utterances over ``max_frames`` are
    cropped at a random offset (the same for features and targets)."""
    xs, ys = [], []
    for i in idx:
        x, y = frames[i], targets[i]
        if x.shape[0] > max_frames:
            start = int(rng.integers(0, x.shape[0] - max_frames + 1))
            x, y = x[start : start + max_frames], y[start : start + max_frames]
        xs.append(x)
        ys.append(y)
    lens = torch.tensor([x.shape[0] for x in xs])
    x_pad = torch.nn.utils.rnn.pad_sequence(xs, batch_first=True)
    y_pad = torch.nn.utils.rnn.pad_sequence(ys, batch_first=True, padding_value=-1)
    return x_pad, y_pad, lens


def lr_factor(progress: float, warmup: float) -> float:
    """Linear warm-up over ``warmup`` of training, then linear decay to 0 (``progress`` in [0, 1])."""
    if progress < warmup:
        return max(progress / warmup, 1e-3)
    return max(0.0, (1.0 - progress) / (1.0 - warmup))


@torch.inference_mode()
def masked_accuracy(model: SslModel, frames: list[torch.Tensor], targets: list[torch.Tensor], cfg: SslConfig,
                    device: torch.device) -> float:
    """Fraction of masked frames whose k-means target is predicted (fixed masks; unsupervised)."""
    model.eval()
    gen = torch.Generator().manual_seed(cfg.seed + 12345)
    correct = total = 0
    for start in range(0, len(frames), 16):
        idx = list(range(start, min(start + 16, len(frames))))
        x, y, lens = collate(frames, targets, idx, 10**9, np.random.default_rng(0))
        mask = span_mask(lens, x.shape[1], cfg.mask_prob, cfg.mask_length, gen)
        pred = model.logits(x.to(device), lens.to(device), mask.to(device)).argmax(-1).cpu()
        correct += int((pred[mask] == y[mask]).sum())
        total += int(mask.sum())
    return correct / max(total, 1)


def train_iteration(
    cfg: SslConfig,
    it: SslIterationConfig,
    frames: list[torch.Tensor],
    targets: list[torch.Tensor],
    monitor: tuple[list[torch.Tensor], list[torch.Tensor]],
    out_dir: Path,
    device: torch.device,
    init: SslModel | None = None,
    ranks: Ranks | None = None,
) -> SslModel:
    """Masked prediction of ``targets`` from ``frames`` for one iteration, starting from ``init``'s
    weights (all but the prediction head) when given; resumes from ``last.pt``. With several ``ranks``,
    each trains on its share of the batches (module docstring); call it on every rank."""
    ranks = ranks or Ranks()
    torch.manual_seed(cfg.seed)
    model = SslModel(cfg.model, num_targets=it.num_clusters)
    if init is not None:
        missing, unexpected = model.load_state_dict(init.state_dict(), strict=False)
        if unexpected or any(not k.startswith("head.") for k in missing):
            raise ValueError(f"cannot start from the previous iteration: missing {missing}, unexpected {unexpected}")
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    world, rank = ranks.world_size, ranks.rank
    rng = np.random.default_rng(cfg.seed)  # the batch order: the same stream on every rank
    crop_rng = rng if world == 1 else np.random.default_rng([cfg.seed, rank])  # crops of this rank's batches
    mask_gen = torch.Generator().manual_seed(cfg.seed + rank)
    lens = [x.shape[0] for x in frames]
    steps_per_epoch = len(length_batches(lens, cfg.batch_frames, cfg.max_frames, np.random.default_rng(0))) // world
    if steps_per_epoch == 0:
        raise ValueError(f"{len(frames)} utterances make fewer batches than the {world} processes: use fewer "
                         "processes (torchrun --nproc_per_node) or a smaller ssl.batch_frames")
    total_steps = it.epochs * steps_per_epoch
    state: dict[str, Any] = {"epoch": 0, "step": 0, "seconds": 0.0, "history": []}
    last = out_dir / "last.pt"
    if last.is_file():
        blob = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["opt"])
        rng.bit_generator.state = blob["rng"]
        per_rank = blob.get("ranks") or []
        if world == 1:
            mask_gen.set_state(blob["mask_gen"])
        elif len(per_rank) == world:
            mask_gen.set_state(per_rank[rank]["mask_gen"])
            crop_rng.bit_generator.state = per_rank[rank]["crop_rng"]
        elif ranks.main:
            logger.warning("[ssl-pretrain] %s was saved by %d process(es), resumed by %d: fresh per-rank streams",
                           last, max(len(per_rank), 1), world)
        state = blob["state"]
        if ranks.main:
            logger.info("[ssl-pretrain] resuming %s at epoch %d", out_dir.name, state["epoch"])
    if world > 1:
        torch.manual_seed(cfg.seed + rank)  # dropout differs across ranks (rank 0 of 1 keeps the single stream)
    net: nn.Module = MaskedLogits(model)
    if dist.is_initialized():
        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    start, seconds0 = time.monotonic(), float(state["seconds"])

    def progress() -> float:
        spent = seconds0 + time.monotonic() - start
        by_time = spent / it.max_seconds if it.max_seconds else 0.0
        # the slowest clock decides for every rank, so that all of them stop at the same update
        return ranks.reduce(min(1.0, max(float(state["step"]) / total_steps, by_time)), device)

    while state["epoch"] < it.epochs and progress() < 1.0:
        net.train()
        batches = length_batches(lens, cfg.batch_frames, cfg.max_frames, rng)
        batches = batches[rank : world * (len(batches) // world) : world]
        run_loss = run_n = 0.0
        bar = tqdm(batches, desc=f"ssl {out_dir.name} epoch {state['epoch'] + 1}/{it.epochs}", unit="batch",
                   leave=False, disable=not ranks.main)
        for idx in bar:
            p = progress()
            if p >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = cfg.lr * lr_factor(p, cfg.warmup_fraction)
            x, y, blens = collate(frames, targets, idx, cfg.max_frames, crop_rng)
            mask = span_mask(blens, x.shape[1], cfg.mask_prob, cfg.mask_length, mask_gen)
            logits = net(x.to(device), blens.to(device), mask.to(device))
            loss = torch.nn.functional.cross_entropy(logits[mask.to(device)], y.to(device)[mask.to(device)])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"SSL loss became {loss.item()} at step {state['step']}; lower ssl.lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            state["step"] += 1
            run_loss += loss.item()
            run_n += 1
            bar.set_postfix(loss=f"{run_loss / run_n:.3f}")
        state["epoch"] += 1
        state["seconds"] = seconds0 + time.monotonic() - start
        acc = masked_accuracy(model, *monitor, cfg, device)
        row = {"epoch": state["epoch"], "step": state["step"], "seconds": round(state["seconds"], 1),
               "train/loss": ranks.reduce(run_loss / max(run_n, 1), device, "mean"), "monitor/masked_acc": acc,
               "lr": cfg.lr * lr_factor(progress(), cfg.warmup_fraction)}
        state["history"].append(row)
        streams = ranks.gather({"mask_gen": mask_gen.get_state(), "crop_rng": crop_rng.bit_generator.state})
        if not ranks.main:
            continue
        logger.info("[ssl-pretrain] %s epoch %d: loss %.3f, masked target accuracy %.3f (%.0f s)", out_dir.name,
                    state["epoch"], row["train/loss"], acc, state["seconds"])
        blob = {"model": model.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                "mask_gen": mask_gen.get_state(), "state": state, "ranks": streams if world > 1 else []}
        atomic_write(last, lambda tmp, b=blob: torch.save(b, tmp))  # type: ignore[misc]
    if ranks.main:
        atomic_write_text(out_dir / "history.jsonl", "".join(json.dumps(r) + "\n" for r in state["history"]))
        plot_history(state["history"], out_dir / "curves.png")
    return model


def plot_history(history: list[dict[str, Any]], path: Path) -> None:
    """Training loss and monitor accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(epochs, [r["train/loss"] for r in history])
    ax[0].set(xlabel="epoch", ylabel="masked CE loss", title="training loss")
    ax[1].plot(epochs, [r["monitor/masked_acc"] for r in history])
    ax[1].set(xlabel="epoch", ylabel="accuracy", title="masked target accuracy (monitor split)")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def run(cfg: RunConfig) -> Path:
    cfg.ssl.validate()
    with process_group(cfg.ssl.device) as (ranks, device):
        return _pretrain(cfg, ranks, device)


def _pretrain(cfg: RunConfig, ranks: Ranks, device: torch.device) -> Path:
    """Every iteration in turn, on every rank (rank 0 alone writes files; the others wait for them)."""
    scfg = cfg.ssl
    paths = RunPaths(Path(cfg.out))
    root = paths.out / "exp" / "ssl"
    splits = scfg.splits or [cfg.splits.train]
    monitor_split = scfg.monitor_split or cfg.splits.valid
    t0 = time.time()
    front = frontend(scfg.model)
    manifests, mon_manifest = [paths.manifest(s) for s in splits], paths.manifest(monitor_split)
    frames = load_frames(manifests, front, "log-mel (pre-training audio)")
    mon_frames = load_frames([mon_manifest], front, "log-mel (monitor audio)")
    hours = sum(x.shape[0] for x in frames) * front.frame_shift_s / 3600
    logger.info("[ssl-pretrain] %d utterances, %.2f h of audio from %s; monitor: %s (%d utterances), device %s%s",
                len(frames), hours, splits, monitor_split, len(mon_frames), device,
                f", rank {ranks.rank} of {ranks.world_size}" if ranks.world_size > 1 else "")
    prev: SslModel | None = None
    for i, it in enumerate(scfg.iterations, start=1):
        out_dir = root / f"iter{i}"
        # iteration i depends on the settings and on iterations 1..i, not on later ones (adding an
        # iteration or changing the last one keeps the finished earlier ones)
        settings = {**asdict(scfg), "iterations": [asdict(x) for x in scfg.iterations[:i]]}
        info = json.loads(json.dumps({"iteration": i, "ssl": settings, "splits": splits}))
        record = out_dir / "inputs.json"
        if ranks.main and out_dir.exists() and (not record.is_file() or json.loads(record.read_text()) != info):
            logger.warning("[ssl-pretrain] %s was made with other settings: starting it afresh", out_dir)
            shutil.rmtree(out_dir)
        ranks.barrier()
        if is_done(out_dir):
            prev, _ = load_checkpoint(out_dir / "model.pt")
            logger.info("[ssl-pretrain] iteration %d cached in %s", i, out_dir)
            continue
        if ranks.main:
            atomic_write_json(record, info)
            targets, mon_targets = _targets(it, prev, (frames, mon_frames), (manifests, [mon_manifest]), scfg,
                                            out_dir, device)
        ranks.barrier()
        if not ranks.main:  # rank 0 has written them
            targets, mon_targets = _targets(it, prev, (frames, mon_frames), (manifests, [mon_manifest]), scfg,
                                            out_dir, device)
        model = train_iteration(scfg, it, frames, targets, (mon_frames, mon_targets), out_dir, device,
                                init=prev if it.init == "previous" else None, ranks=ranks)
        if ranks.main:
            history = [json.loads(line) for line in (out_dir / "history.jsonl").read_text().splitlines()]
            save_checkpoint(out_dir / "model.pt", model, {
                "iteration": i, "targets": it.targets, "target_layer": it.target_layer,
                "num_clusters": it.num_clusters, "init": it.init, "hours": hours, "splits": splits,
                "epochs": history[-1]["epoch"] if history else 0,
                "seconds": history[-1]["seconds"] if history else 0.0, "world_size": ranks.world_size,
            })
            mark_done(out_dir, info)
            (out_dir / "last.pt").unlink(missing_ok=True)
        ranks.barrier()
        prev, _ = load_checkpoint(out_dir / "model.pt")
    final = root / "model.pt"
    last_dir = root / f"iter{len(scfg.iterations)}"
    if ranks.main:
        atomic_write(final, lambda tmp: shutil.copyfile(last_dir / "model.pt", tmp))
        logger.info("[ssl-pretrain] %d iteration(s) on %.2f h -> %s (%.0f s)", len(scfg.iterations), hours, final,
                    time.time() - t0)
    ranks.barrier()
    return final


def _targets(
    it: SslIterationConfig,
    prev: SslModel | None,
    frames: tuple[list[torch.Tensor], list[torch.Tensor]],
    manifests: tuple[list[Path], list[Path]],
    cfg: SslConfig,
    out_dir: Path,
    device: torch.device,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """k-means targets of the pre-training and monitor frames (cached in ``targets.npz``); the
    k-means is fitted on the pre-training audio only."""
    path = out_dir / "targets.npz"
    if not path.is_file():
        if it.targets == "mfcc":
            # the MFCC featurizer frames audio exactly like the log-mel front end (same windows, stack 2)
            mfcc = MfccFeaturizer(MfccConfig(kind="mfcc"))
            inputs = [[x.numpy() for x in load_frames(m, mfcc, "MFCC for targets")] for m in manifests]
        else:
            if prev is None:
                raise ValueError("targets=layer needs a previous iteration")
            inputs = [layer_frames(prev, f, it.target_layer, device) for f in frames]
        for got, want in zip(inputs, frames, strict=True):
            if [x.shape[0] for x in got] != [x.shape[0] for x in want]:
                raise ValueError("target frames and model frames differ in number; check the front-end settings")
        sample = sample_frames(inputs[0], cfg.kmeans_max_frames, np.random.default_rng(cfg.seed))
        centroids = fit_kmeans(sample, it.num_clusters, seed=cfg.seed)
        flat = [np.concatenate([assign(x, centroids) for x in part]) for part in inputs]

        def write(tmp: Path) -> None:
            with tmp.open("wb") as f:
                np.savez(f, train=flat[0], monitor=flat[1])

        atomic_write(path, write)
    with np.load(path) as z:
        return _split(z["train"], frames[0]), _split(z["monitor"], frames[1])


def _split(flat: np.ndarray, frames: list[torch.Tensor]) -> list[torch.Tensor]:
    offs = np.cumsum([0] + [x.shape[0] for x in frames])
    if offs[-1] != flat.shape[0]:
        raise ValueError("cached SSL targets do not match the audio; delete the iteration folder")
    return [torch.from_numpy(flat[offs[i] : offs[i + 1]].astype(np.int64)) for i in range(len(frames))]
