"""The ``sawv`` segmenter: fit, segment, save and load (registered as ``segmenter=sawv``).

Fitting standardises the features with the training split's per-dimension mean and standard
deviation (kept in the saved state) and trains :class:`~segmentation.sawv.model.SawvModel` (see
:mod:`segmentation.sawv.train`). Segmenting is deterministic: a frame starts a segment where the
boundary probability exceeds 0.5 (plus frame 0, and cuts of runs longer than
``max_segment_frames``); each segment's embedding is the model's segment embedding (E values),
optionally followed by the mean of the segment's standardised input frames (D values).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from segmentation.base import SEGMENTERS, Segmentation, Segmenter, batch_segmentation
from segmentation.sawv.config import SawvConfig
from segmentation.sawv.model import SawvModel
from segmentation.sawv.spans import cap_runs, expand, segments
from segmentation.sawv.train import FitHistory, feature_stats, fit_model
from unsup_asr.io import atomic_write

logger = logging.getLogger(__name__)

_ARCH_KEYS = ("input_dim", "hidden_dim", "embedding_dim", "conv_layers", "kernel_size", "trajectory",
              "max_segment_frames", "concat_mean_features")
"""Settings stored with the weights: what ``load`` needs to rebuild the model and segment as it did."""


@SEGMENTERS.register("sawv", config=SawvConfig)
class SawvSegmenter(Segmenter):
    """Segmental Audio Word2Vec (Wang et al. 2018): learned boundaries + segment autoencoder embeddings."""

    def __init__(self, cfg: SawvConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.out_dim = 0
        self.model: SawvModel | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.max_segment_frames = cfg.max_segment_frames
        self.concat_mean_features = cfg.concat_mean_features
        self.history: FitHistory | None = None
        """Training statistics of the last ``fit`` (None after ``load``)."""

    def fit(self, feats: Sequence[np.ndarray]) -> None:
        """Train on unlabelled utterances ``feats[i] (T_i, D)`` (no transcripts are used)."""
        cfg = self.cfg
        utts = [np.asarray(f, dtype=np.float32) for f in feats]
        if not utts:
            raise ValueError("sawv segmenter: no training utterances; check the train split's features")
        dims = {u.shape[1] for u in utts if u.ndim == 2}
        if len(dims) != 1 or any(u.ndim != 2 for u in utts):
            raise ValueError(f"sawv segmenter: training features must all be (T, D) with one D, got dims {dims}")
        utts = [u for u in utts if u.shape[0] > 0]
        if not utts:
            raise ValueError("sawv segmenter: every training utterance has 0 frames; check the feature extraction")
        self.mean, self.std = feature_stats(utts)
        normed = [(u - self.mean) / self.std for u in utts]
        del utts  # keep one copy of the training frames in memory
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.model = SawvModel(
                input_dim=dims.pop(),
                hidden_dim=cfg.hidden_dim,
                embedding_dim=cfg.embedding_dim,
                conv_layers=cfg.conv_layers,
                kernel_size=cfg.kernel_size,
                init_boundary_prob=cfg.target_per_frame if cfg.target_rate > 0 else 0.25,
                trajectory=cfg.trajectory,
            )
        self.max_segment_frames = cfg.max_segment_frames
        self.concat_mean_features = cfg.concat_mean_features
        self.history = fit_model(self.model, normed, cfg)
        self.model.cpu()
        self.out_dim = self._out_dim(self.model)
        h = self.history
        logger.info("[sawv] fitted on %d utterances in %.0f s: recon %.4f, %.2f seg/s (p>0.5), λ %.4g, dim %d",
                    len(normed), h.seconds, h.recon_loss[-1], h.mode_rate[-1], h.penalty[-1], self.out_dim)

    def _out_dim(self, model: SawvModel) -> int:
        return model.embedding_dim + (model.input_dim if self.concat_mean_features else 0)

    def _require_fit(self) -> tuple[SawvModel, np.ndarray, np.ndarray]:
        if self.model is None or self.mean is None or self.std is None:
            raise RuntimeError("sawv segmenter is not fitted: call fit() or load() first")
        return self.model, self.mean, self.std

    @torch.no_grad()
    def __call__(self, feats: torch.Tensor, lens: torch.Tensor) -> Segmentation:
        """Segment ``feats (B, T, D)`` with valid lengths ``lens (B,)``; see the module docstring."""
        model, mean, std = self._require_fit()
        if feats.ndim != 3 or feats.shape[2] != model.input_dim:
            raise ValueError(f"sawv segmenter expects features (B, T, {model.input_dim}), got {tuple(feats.shape)}")
        lens_list = [int(n) for n in lens.tolist()]
        if min(lens_list) < 1 or max(lens_list) > feats.shape[1]:
            raise ValueError(f"sawv segmenter: lengths must be in [1, {feats.shape[1]}], got {lens_list}")
        device = self.cfg.resolved_device()
        model.to(device).eval()
        mask = torch.arange(feats.shape[1], device=device)[None] < torch.as_tensor(lens_list, device=device)[:, None]
        x = (feats.to(device).float() - torch.from_numpy(mean).to(device)) / torch.from_numpy(std).to(device)
        x = x * mask[..., None]
        logits = model.boundary_logits(x, mask)[mask]
        flat = x[mask]
        utt_start = torch.zeros(flat.shape[0], dtype=torch.bool, device=device)
        offsets = np.concatenate([[0], np.cumsum(lens_list)])
        utt_start[torch.as_tensor(offsets[:-1], device=device)] = True
        bounds, _ = cap_runs((logits > 0) | utt_start, self.max_segment_frames)
        starts, seg_lens, _ = segments(bounds)
        spans = expand(starts, seg_lens)
        emb = model.embed(model.frame_codes(flat), spans)
        if self.concat_mean_features:
            sums = torch.zeros(starts.shape[0], flat.shape[1], device=device)
            sums.index_add_(0, spans.span_id, flat[spans.frame])
            emb = torch.cat([emb, sums / seg_lens[:, None].float()], dim=1)
        bounds_np, emb_np = bounds.cpu().numpy(), emb.float().cpu().numpy()
        seg_offsets = np.concatenate([[0], np.cumsum(bounds_np)])[offsets]  # segments before each utterance
        per_utt = [(bounds_np[offsets[i] : offsets[i + 1]], emb_np[seg_offsets[i] : seg_offsets[i + 1]])
                   for i in range(len(lens_list))]
        self.out_dim = emb_np.shape[1]
        return batch_segmentation(per_utt, feats.shape[1])

    def save(self, path: Path) -> None:
        """Write weights, normalisation and the settings that shape the output to ``path`` (npz, atomically)."""
        model, mean, std = self._require_fit()
        arrays = {f"w.{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        arch = {"input_dim": model.input_dim, "hidden_dim": model.hidden_dim, "embedding_dim": model.embedding_dim,
                "conv_layers": len(model.convs), "kernel_size": model.kernel_size, "trajectory": int(model.trajectory),
                "max_segment_frames": self.max_segment_frames, "concat_mean_features": int(self.concat_mean_features)}
        arrays.update({f"arch.{k}": np.asarray(arch[k]) for k in _ARCH_KEYS})

        def write(p: Path) -> None:
            with p.open("wb") as f:
                np.savez(f, mean=mean, std=std, **arrays)

        atomic_write(path, write)

    def load(self, path: Path) -> None:
        """Restore the state written by :meth:`save` (the config's model fields are not needed)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"sawv segmenter state {path} not found; run the segment stage's fit first")
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        missing = [f"arch.{k}" for k in _ARCH_KEYS if f"arch.{k}" not in data] + [k for k in ("mean", "std")
                                                                                 if k not in data]
        if missing:
            raise ValueError(f"{path} is not a sawv segmenter state (missing {missing}); re-run the segment stage")
        arch = {k: int(data[f"arch.{k}"]) for k in _ARCH_KEYS}
        model = SawvModel(input_dim=arch["input_dim"], hidden_dim=arch["hidden_dim"],
                          embedding_dim=arch["embedding_dim"], conv_layers=arch["conv_layers"],
                          kernel_size=arch["kernel_size"], init_boundary_prob=0.5,
                          trajectory=bool(arch["trajectory"]))
        model.load_state_dict({k[2:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("w.")})
        self.model = model.eval()
        self.mean, self.std = data["mean"], data["std"]
        self.max_segment_frames = arch["max_segment_frames"]
        self.concat_mean_features = bool(arch["concat_mean_features"])
        self.out_dim = self._out_dim(model)
