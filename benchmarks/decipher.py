"""Decipherment check: can the GAN learn an unknown phone permutation from unpaired text?

Segments are given by the *true* phone boundaries; each segment's feature identifies its phone only
up to an unknown permutation (a random embedding of the permuted id) plus Gaussian noise; the
unpaired text comes from the same phone LM (different sentences). The generator is trained with
the library's GAN and the checkpoint is chosen **without labels** (weighted LM perplexity of the
Viterbi output on unlabelled validation segments, kenlm 4-gram on the unpaired text). PER of the
selected checkpoint on the labelled test set is reported. Target: PER <= 10 % within 5 minutes.

    .venv/bin/python benchmarks/decipher.py --out benchmarks/results/decipher.json
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

from gan.checkpoint import load_generator
from gan.config import GanConfig
from gan.generator import argmax_hypotheses, predict_log_probs
from gan.synthetic import SIL, DecipherConfig, DecipherTask, make_decipher_task
from gan.trainer import train_gan
from unsup_asr.io import atomic_write_json
from unsup_asr.metrics.edit import per
from unsup_asr.metrics.unsupervised import weighted_lm_ppl
from unsup_asr.text.lm import KenLM, build_lm


def run_decipher(task: DecipherTask, cfg: GanConfig, work: Path) -> dict[str, float]:
    """Train on ``task`` with unsupervised selection; return PER of the selected checkpoint."""
    text_path = work / "text.txt"
    text_path.write_text("".join(" ".join(task.ids_to_phones(t)) + "\n" for t in task.text))
    lm = KenLM(build_lm(text_path, work / "lm", order=4))
    phones = [p for p in task.vocab if p != SIL]

    def select_score(hyps: list[list[str]]) -> float:  # no labels: LM perplexity / vocab usage^2
        return weighted_lm_ppl(hyps, lm, vocab=phones).weighted_lm_ppl

    t0 = time.time()
    result = train_gan(cfg, task.train, task.text, task.vocab, work / "gan", valid=task.valid,
                       select_score=select_score)
    gen = load_generator(result.best_checkpoint)
    hyps = argmax_hypotheses(predict_log_probs(gen, task.test), task.vocab)
    refs = [task.ids_to_phones(y) for y in task.test_labels]
    most_frequent = max(phones, key=lambda p: sum(r.count(p) for r in refs))
    return {
        "per_selected": per(refs, hyps).rate,
        "per_trivial_baseline": per(refs, [[most_frequent] * len(r) for r in refs]).rate,
        "selected_step": result.best_step,
        "updates": result.num_updates_done,
        "seconds": time.time() - t0,
        "updates_per_second": result.num_updates_done / max(result.seconds, 1e-9),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/decipher.json"))
    ap.add_argument("--max-seconds", type=float, default=300.0, help="wall-clock budget of GAN training")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    task = make_decipher_task(DecipherConfig(seed=args.seed))
    cfg = GanConfig(max_seconds=args.max_seconds, seed=args.seed)
    work = Path(tempfile.mkdtemp(prefix="decipher_"))
    try:
        res = run_decipher(task, cfg, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res |= {"target_per": 0.10, "max_seconds": args.max_seconds, "seed": args.seed}
    print(json.dumps(res, indent=2))
    atomic_write_json(args.out, res)


if __name__ == "__main__":
    main()
