"""``learner=gan``: wav2vec-U-style adversarial training (:mod:`gan.trainer`, :mod:`gan.restarts`)
behind the :class:`~gan.learner.Learner` interface, unchanged in behaviour.

Selection rule: the lowest weighted LM perplexity of the (EMA) generator's Viterbi output on the
unlabelled ``valid`` audio, over every evaluation (every ``eval_every`` updates) of every seed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from gan.config import GanConfig
from gan.learner import LEARNERS, Candidate, Learner, LearnerInputs, LearnResult, write_candidates
from gan.plot import plot_curves
from gan.restarts import train_gan_seeds
from gan.trainer import CANDIDATE_DIR, candidate_name

logger = logging.getLogger(__name__)

RULE = ("lowest weighted LM perplexity (phone LM of the unpaired text / vocabulary usage^2) of the EMA generator's "
        "Viterbi output on unlabelled valid audio, over every evaluation of every seed")


@LEARNERS.register("gan", config=GanConfig)
class GanLearner(Learner):
    """The GAN of :mod:`gan.trainer`, ``num_seeds`` seeds, label-free selection (module docstring)."""

    cfg: GanConfig

    def fit(self, inputs: LearnerInputs, out_dir: Path) -> LearnResult:
        text = length_matched(inputs.text, inputs.train)
        result = train_gan_seeds(self.cfg, inputs.train, text, inputs.vocab, out_dir, valid=inputs.valid,
                                 select_score=inputs.select_score, init_generator=inputs.init)
        plot_curves(result.history, out_dir / "curves.png")
        candidates = gan_candidates(out_dir)
        capped = result.num_updates_done < self.cfg.num_updates * self.cfg.num_seeds
        seeds_file = out_dir / "seeds.json"
        prefix = f"seed{json.loads(seeds_file.read_text())['selected_seed']}/" if seeds_file.is_file() else ""
        write_candidates(out_dir, candidates)
        return LearnResult(checkpoint=result.best_checkpoint, rule=RULE, score=result.best_score,
                           candidates=candidates,
                           info={"updates": result.num_updates_done, "seconds": result.seconds,
                                 "best_step": result.best_step, "selected": f"{prefix}step{result.best_step}",
                                 "max_seconds_fired": capped})


def gan_candidates(out_dir: Path) -> list[Candidate]:
    """Every evaluated generator of the seeds trained in ``out_dir`` (from their ``history.jsonl``)."""
    seeds_file = out_dir / "seeds.json"
    runs = ([(f"seed{s}/", out_dir / f"seed{s}") for s in json.loads(seeds_file.read_text())["runs"]]
            if seeds_file.is_file() else [("", out_dir)])
    out: list[Candidate] = []
    for prefix, folder in runs:
        for line in (folder / "history.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "eval/select_score" not in record:
                continue
            step = int(record["step"])
            rel = f"{prefix}{CANDIDATE_DIR}/{candidate_name(step)}"
            if (out_dir / rel).is_file():
                out.append(Candidate(tag=f"{prefix}step{step}", checkpoint=rel, step=step,
                                     scores={"weighted_lm_ppl": float(record["eval/select_score"])}))
    return out


def length_matched(text: list[np.ndarray], train: list[np.ndarray]) -> list[np.ndarray]:
    """Text sentences no longer (in phones, silences included) than 99 % of the training
    utterances are (in segments): book sentences far longer than any utterance would only cost
    discriminator time and give it a length cue. Falls back to all text if too little is left."""
    limit = int(np.percentile([len(t) for t in train], 99))
    kept = [t for t in text if len(t) <= limit]
    if len(kept) < min(1000, len(text) // 2):
        logger.warning("[learn] only %d of %d text sentences fit %d segments: keeping all", len(kept), len(text), limit)
        return text
    logger.info("[learn] %d of %d text sentences fit the audio's length (<= %d tokens)", len(kept), len(text), limit)
    return kept
