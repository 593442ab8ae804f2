"""``learner=match``: non-adversarial output-statistics matching (EODM, Yeh et al. 2019; ESPUM's
count statistics, Wang et al. 2024), with restarts and label-free selection.

Read :meth:`MatchLearner.fit` top to bottom: the text's statistics; a model of ``restarts``
generators trained together (:class:`TableModel` over k-means clusters, or :class:`FeatureModel`
over the embeddings); ``steps`` Adam updates of the weighted loss terms (:mod:`gan.match.terms`);
then every restart is scored without labels (its matching loss on all training audio and on the
unlabelled valid audio, and the weighted LM perplexity of its Viterbi output on valid) and the
``select`` rule keeps one. Each restart is written as a :class:`gan.generator.Generator`, so
decoding, self-training and the GAN's tools read it like any generator.

A killed run resumes from ``last.pt`` (saved every 250 updates); a finished folder returns its
stored result.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from gan.checkpoint import save_best
from gan.config import GanConfig, GeneratorConfig
from gan.data import pad_features, sample_batch
from gan.generator import Generator
from gan.learner import LEARNERS, Candidate, Learner, LearnerInputs, LearnResult, write_candidates
from gan.match.config import MatchConfig
from gan.match.stats import SIL, BatchStats, ClusterCounts, ClusterStats, TextStats, process_text
from gan.match.terms import MATCH_TERMS, Statistics
from gan.phone_model import load_phone_model, predict_log_probs
from gan.plot import plot_history
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.device import resolve_device
from unsup_asr.io import atomic_write, atomic_write_json, atomic_write_text, is_done, mark_done
from unsup_asr.kmeans import fit_kmeans

logger = logging.getLogger(__name__)

LAST, BEST, RESULT = "last.pt", "best.pt", "result.json"
CHECKPOINT_EVERY = 250
LOG_EVERY = 50
RULES = {
    "match_loss": "lowest matching loss (weighted terms) of the restart's outputs on all unlabelled training audio",
    "valid_match_loss": "lowest matching loss of the restart's outputs on the unlabelled valid audio",
    "weighted_lm_ppl": "lowest weighted LM perplexity of the restart's Viterbi output on the unlabelled valid audio",
}


class TableModel:
    """``R`` cluster -> phone tables: logits ``(R, K, V)`` over k-means clusters of the
    layer-normalised segment embeddings (hard assignment, as :class:`Generator` with ``num_clusters``)."""

    def __init__(self, cfg: MatchConfig, inputs: LearnerInputs, rng: np.random.Generator,
                 device: torch.device) -> None:
        self.cfg, self.vocab = cfg, inputs.vocab
        dim = inputs.train[0].shape[1]
        self.template = Generator(self.generator_config(), dim, inputs.vocab)
        points = np.concatenate(inputs.train)
        points = points[rng.permutation(len(points))[: cfg.max_fit_points]]
        normed = F.layer_norm(torch.from_numpy(points.astype(np.float32)), (dim,)).numpy()
        if len(normed) < cfg.num_clusters:
            raise ValueError(f"{len(normed)} training segments cannot fit {cfg.num_clusters} clusters: lower "
                             "learner.num_clusters or use more training audio")
        centroids = fit_kmeans(normed, cfg.num_clusters, seed=int(rng.integers(2**31)))
        self.template.centroids.copy_(torch.from_numpy(centroids))
        self.ids = {split: self.cluster_ids(feats) for split, feats in (("train", inputs.train),
                                                                       ("valid", inputs.valid))}
        empty = np.setdiff1d(np.arange(cfg.num_clusters), np.concatenate(self.ids["train"]))
        if len(empty):
            raise ValueError(f"{len(empty)} of {cfg.num_clusters} k-means clusters got no training segment: lower "
                             "learner.num_clusters (too few distinct segments for K clusters)")
        counts = {split: ClusterCounts(ids, cfg.num_clusters, skip_distances=cfg.skip_distances,
                                       positions=cfg.positions, device=device) for split, ids in self.ids.items()}
        self.counts = counts
        params = torch.randn(cfg.restarts, cfg.num_clusters, len(inputs.vocab), dtype=torch.float64) * cfg.init_std
        if inputs.init is not None:
            params += self.init_table(inputs.init, inputs.train)[None]
        self.params = params.to(device)  # drawn on the CPU: the same starts on every device

    def generator_config(self) -> GeneratorConfig:
        return GeneratorConfig(num_clusters=self.cfg.num_clusters, kernel_size=1, input_norm=True, bias=False)

    @torch.no_grad()
    def cluster_ids(self, feats: list[np.ndarray]) -> list[np.ndarray]:
        return [self.template.encode(torch.from_numpy(f.astype(np.float32))).argmax(-1).numpy() for f in feats]

    def init_table(self, path: Path, train: list[np.ndarray]) -> torch.Tensor:
        """Log of the mean posterior, per cluster, of the phone model at ``path`` on the training segments."""
        model = load_phone_model(path)
        if model.unit != "segment" or model.vocab != self.vocab:
            raise ValueError(f"cannot start from {path}: it is a {model.unit} model over {len(model.vocab)} phones; "
                             f"learning needs a segment model over the run's {len(self.vocab)} phones")
        post = np.exp(np.concatenate(predict_log_probs(model, train)))
        ids = np.concatenate(self.ids["train"])
        table = np.full((self.cfg.num_clusters, len(self.vocab)), 1e-6)
        np.add.at(table, ids, post)
        return torch.from_numpy(np.log(table / table.sum(1, keepdims=True)))

    def stats(self, rng: np.random.Generator, split: str = "train") -> Statistics:
        return ClusterStats(self.counts[split], self.params.softmax(-1), merge_repeats=self.cfg.merge_repeats)

    def eval_stats(self, split: str) -> list[Statistics]:
        return [self.stats(np.random.default_rng(0), split)]

    def generator(self, r: int) -> Generator:
        gen = Generator(self.generator_config(), self.template.input_dim, self.vocab)
        gen.load_state_dict(self.template.state_dict())
        with torch.no_grad():
            gen.proj.weight.copy_(self.params[r].detach().cpu().T[:, :, None].to(gen.proj.weight.dtype))
        return gen.eval()


class FeatureModel:
    """``R`` linear maps (Conv1d of width ``kernel_size`` over segments) of the layer-normalised
    embeddings, trained on batches of ``batch_size`` utterances."""

    def __init__(self, cfg: MatchConfig, inputs: LearnerInputs, rng: np.random.Generator,
                 device: torch.device) -> None:
        self.cfg, self.vocab, self.inputs, self.device = cfg, inputs.vocab, inputs, device
        self.dim = inputs.train[0].shape[1]
        self.params = (torch.randn(cfg.restarts, cfg.kernel_size * self.dim, len(self.vocab),
                                   dtype=torch.float64) * cfg.init_std).to(device)
        if inputs.init is not None:
            logger.warning("[learn] learner.input=features starts afresh: it cannot start from %s", inputs.init)
        fixed = np.random.default_rng(cfg.seed + 1)
        self.fixed = {split: [sample_batch(feats, cfg.batch_size, fixed) for _ in range(8)]
                      for split, feats in (("train", inputs.train), ("valid", inputs.valid))}

    def probs(self, batch: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = pad_features(batch, self.device)
        x = F.layer_norm(x, (self.dim,)).double().masked_fill(mask[..., None], 0.0)
        pad = self.cfg.kernel_size // 2
        xp = F.pad(x, (0, 0, pad, pad))
        windows = torch.cat([xp[:, j : j + x.shape[1]] for j in range(self.cfg.kernel_size)], -1)
        return torch.einsum("bsd,rdv->rbsv", windows, self.params).softmax(-1), mask

    def stats(self, rng: np.random.Generator, split: str = "train") -> Statistics:
        feats = self.inputs.train if split == "train" else self.inputs.valid
        return self._stats(sample_batch(feats, self.cfg.batch_size, rng))

    def _stats(self, batch: list[np.ndarray]) -> Statistics:
        probs, mask = self.probs(batch)
        return BatchStats(probs, mask, merge_repeats=self.cfg.merge_repeats, positions=self.cfg.positions)

    def eval_stats(self, split: str) -> list[Statistics]:
        return [self._stats(b) for b in self.fixed[split]]

    def generator(self, r: int) -> Generator:
        k = self.cfg.kernel_size
        cfg = GeneratorConfig(num_clusters=0, kernel_size=k, input_norm=True, bias=False)
        gen = Generator(cfg, self.dim, self.vocab)
        w = self.params[r].detach().cpu().reshape(k, self.dim, len(self.vocab)).permute(2, 1, 0)  # (V, D, k)
        with torch.no_grad():
            gen.proj.weight.copy_(w.to(gen.proj.weight.dtype))
        return gen.eval()


def total_loss(cfg: MatchConfig, out: Statistics, text: Statistics) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted sum ``(R,)`` of the configured terms, and each term ``(R,)``."""
    terms = {name: MATCH_TERMS[name](out, text, cfg) for name, w in sorted(cfg.terms.items()) if w > 0}
    first = next(iter(terms.values()))
    total = sum((cfg.terms[n] * v for n, v in terms.items()), torch.zeros((), dtype=first.dtype, device=first.device))
    return total, terms


@LEARNERS.register("match", config=MatchConfig)
class MatchLearner(Learner):
    """Output-statistics matching (module docstring)."""

    cfg: MatchConfig

    def fit(self, inputs: LearnerInputs, out_dir: Path) -> LearnResult:
        cfg = self.cfg
        out_dir.mkdir(parents=True, exist_ok=True)
        if is_done(out_dir):
            return stored_result(out_dir)
        t0 = time.time()
        sil = inputs.vocab.index(SIL)
        device = resolve_device(cfg.device)
        text = TextStats(process_text(inputs.text, sil, silence=cfg.silence, merge_repeats=cfg.merge_repeats),
                         len(inputs.vocab), positions=cfg.positions, device=device)
        rng = np.random.default_rng(cfg.seed)
        torch.manual_seed(cfg.seed)
        model: TableModel | FeatureModel = (TableModel if cfg.input == "clusters" else FeatureModel)(
            cfg, inputs, rng, device)
        model.params.requires_grad_(True)
        opt = torch.optim.Adam([model.params], lr=cfg.lr)
        start, history = self._resume(out_dir, model, opt, rng)
        for step in tqdm(range(start, cfg.steps), desc="match", initial=start, total=cfg.steps):
            loss, terms = total_loss(cfg, model.stats(rng), text)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            if (step + 1) % LOG_EVERY == 0 or step + 1 == cfg.steps:
                history.append({"step": float(step + 1), "losses/total_min": float(loss.detach().min()),
                                "losses/total_mean": float(loss.detach().mean())}
                               | {f"losses/{n}": float(v.detach().mean()) for n, v in terms.items()})
            if (step + 1) % CHECKPOINT_EVERY == 0:
                self._save_last(out_dir, model, opt, rng, step + 1, history)
        self._save_last(out_dir, model, opt, rng, cfg.steps, history)
        candidates = self._score_restarts(inputs, model, text, out_dir)
        chosen = min(candidates, key=lambda c: c.scores[cfg.select])
        atomic_write(out_dir / BEST, lambda p: p.write_bytes((out_dir / chosen.checkpoint).read_bytes()))
        write_candidates(out_dir, candidates)
        atomic_write_text(out_dir / "history.jsonl", "".join(json.dumps(r) + "\n" for r in history))
        plot_history(history, out_dir / "curves.png", title="output-statistics matching")
        result = LearnResult(checkpoint=out_dir / BEST, rule=RULES[cfg.select], score=chosen.scores[cfg.select],
                             candidates=candidates,
                             info={"selected": chosen.tag, "updates": cfg.steps, "seconds": time.time() - t0})
        atomic_write_json(out_dir / RESULT, {"rule": result.rule, "score": result.score, "info": result.info})
        mark_done(out_dir, {"selected": chosen.tag})
        logger.info("[learn] match: kept %s of %d restarts by %s (%s)", chosen.tag, cfg.restarts, cfg.select,
                    ", ".join(f"{c.tag} {c.scores[cfg.select]:.4g}" for c in candidates))
        return result

    def _score_restarts(self, inputs: LearnerInputs, model: TableModel | FeatureModel, text: TextStats,
                        out_dir: Path) -> list[Candidate]:
        """Label-free scores of every restart; each restart's generator -> ``candidates/restart<r>.pt``."""
        with torch.no_grad():
            losses = {split: torch.stack([total_loss(self.cfg, s, text)[0] for s in model.eval_stats(split)]).mean(0)
                      for split in ("train", "valid")}
        out = []
        for r in range(self.cfg.restarts):
            gen = model.generator(r)
            hyps = [decode_one(lp, inputs.vocab) for lp in predict_log_probs(gen, inputs.valid)]
            ppl = float(inputs.select_score(hyps))
            rel = f"candidates/restart{r}.pt"
            save_best(out_dir / rel, gen=gen, cfg=GanConfig(generator=gen.cfg), step=self.cfg.steps,
                      score=float(losses["train"][r]))
            out.append(Candidate(tag=f"restart{r}", checkpoint=rel, step=self.cfg.steps, scores={
                "match_loss": float(losses["train"][r]), "valid_match_loss": float(losses["valid"][r]),
                "weighted_lm_ppl": ppl if math.isfinite(ppl) else 1e30}))
        return out

    def _resume(self, out_dir: Path, model: TableModel | FeatureModel, opt: torch.optim.Optimizer,
                rng: np.random.Generator) -> tuple[int, list[dict[str, float]]]:
        path = out_dir / LAST
        if not path.is_file():
            return 0, []
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state["params"].shape != model.params.shape:
            raise RuntimeError(f"cannot resume from {path}: it was written with other settings; "
                               "delete it to start over")
        with torch.no_grad():
            model.params.copy_(state["params"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        logger.info("[learn] match: resuming from %s at update %d", path, state["step"])
        return int(state["step"]), list(state["history"])

    def _save_last(self, out_dir: Path, model: TableModel | FeatureModel, opt: torch.optim.Optimizer,
                   rng: np.random.Generator, step: int, history: list[dict[str, float]]) -> None:
        payload: dict[str, Any] = {"params": model.params.detach().clone(), "opt": opt.state_dict(),
                                   "rng": rng.bit_generator.state, "step": step, "history": history}
        atomic_write(out_dir / LAST, lambda p: torch.save(payload, p))


def stored_result(out_dir: Path) -> LearnResult:
    """The result of a finished learner folder (``result.json`` and ``candidates.jsonl``)."""
    from gan.learner import read_candidates

    record = json.loads((out_dir / RESULT).read_text(encoding="utf-8"))
    return LearnResult(checkpoint=out_dir / BEST, rule=record["rule"], score=record["score"],
                       candidates=read_candidates(out_dir), info=record["info"])
