"""Stage 5: self-training after any learner -> ``out/exp/self_train/`` (``uasr self_train``).

Round ``r`` of ``self_train.students`` (read top to bottom in :func:`run_round`):

1. the previous model (round 1: the learner's ``best.pt``) scores every training utterance;
2. the phone-LM beam decoder (:class:`~unsup_asr.decode.lexicon_lm.PhoneLMDecoder`, phone
   ``lm_order``-gram of the unpaired text) turns those scores into one label per position
   (pseudo-labels; converted to segments or frames as the student needs);
3. a student (:mod:`gan.selftrain.students`) is trained on them from scratch;
4. label-free figures are logged: the share of pseudo-labels that changed since the previous round
   of the same unit, and the weighted LM perplexity of the student's Viterbi output on unlabelled
   ``valid`` audio.

Stopping rule (``self_train.stop_change``): once a round changes fewer than that share of its
unit's pseudo-labels, the remaining rounds of that student kind are skipped (the labels have
converged; on the demo the next segment round moved PER by 0.1 point), and the next kind's rounds
run. The weighted LM perplexity is logged but does not choose rounds by default: it is not
comparable between segment and frame models (their Viterbi outputs differ in length), and the last
round was the best in every run measured (recipes/demo/RESULTS.md, recipes/real_small/RESULTS.md).

No transcript is read. Each round writes ``round<r>/`` (``model.pt``, ``record.json``, ``.done``
last) and resumes after a kill; a round whose inputs changed (learner model, settings, earlier
rounds) is redone with every later one. ``best.pt`` is the model that ``self_train.select`` picks
(``last`` round, or the lowest valid weighted LM perplexity, the learner's model included);
every round is a candidate in ``candidates.jsonl`` for the score stage's selection diagnostics.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan.learner import Candidate, write_candidates
from gan.phone_model import PhoneModel, load_phone_model, predict_log_probs, save_phone_model
from gan.selftrain.labels import change_rate, frames_to_segments, segments_to_frames
from gan.selftrain.students import FrameStudent, SegmentStudent, train_student
from unsup_asr.config import RunConfig
from unsup_asr.decode.lexicon_lm import PhoneLMDecoder, PhoneLMDecoderConfig
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.device import resolve_device
from unsup_asr.io import DONE, atomic_write, atomic_write_json, file_sha1, is_done, mark_done
from unsup_asr.paths import RunPaths
from unsup_asr.stages.common import model_inputs, read_vocab, viterbi_config
from unsup_asr.stages.learn import learner_dir, select_score_fn
from unsup_asr.stages.prepare_text import lm_path
from unsup_asr.stages.segment import load_segments, segments_path

logger = logging.getLogger(__name__)

MODEL = "model.pt"


def run(cfg: RunConfig) -> Path:
    """Run the configured rounds (none: nothing to do) and return the final model's path."""
    st = cfg.self_train
    st.validate()
    learned = learner_dir(cfg) / "best.pt"
    if not st.students:
        return learned
    paths = RunPaths(Path(cfg.out))
    root = paths.self_train
    base = {"learner_model": file_sha1(learned), "segments": _done_record(segments_path(cfg, cfg.splits.train).parent),
            "settings": {k: v for k, v in asdict(st).items() if k not in ("students", "select")}}
    vocab = read_vocab(paths.text)
    score = select_score_fn(cfg, vocab)
    lm = lm_path(paths.text, st.lm_order)
    if not lm.is_file():
        raise FileNotFoundError(f"{lm} not found: self_train.lm_order={st.lm_order} needs text.lm_order or "
                                f"text.decode_lm_order set to {st.lm_order} in prepare_text")
    learner_record = {"round": 0, "student": "learner", "unit": load_phone_model(learned).unit,
                      "weighted_lm_ppl": _valid_score(cfg, load_phone_model(learned), score)}
    records, prev_model, labels = [learner_record], learned, {}
    converged: set[str] = set()
    for r, student in enumerate(st.students, start=1):
        folder = root / f"round{r}"
        if student in converged:
            logger.info("[self_train] round %d (%s) skipped: the %s pseudo-labels have converged", r, student, student)
            continue
        identity = base | {"students": st.students[:r]}
        if _up_to_date(folder, identity):
            record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
            labels[record["unit"]] = _load_labels(folder)
        else:
            for later in sorted(root.glob("round*")):
                if int(later.name[5:]) >= r:
                    shutil.rmtree(later)
            record = run_round(cfg, r, student, prev_model, folder, lm, vocab, labels, score)
            mark_done(folder, identity)
        records.append(record)
        prev_model = folder / MODEL
        logger.info("[self_train] round %d (%s): %.1f%% of pseudo-labels changed, valid weighted LM ppl %.4g",
                    r, student, 100 * record["changed"], record["weighted_lm_ppl"])
        if st.stop_change and record["changed"] < st.stop_change:
            converged.add(student)
            logger.info("[self_train] %s rounds converged after round %d: fewer than %.1f%% of pseudo-labels "
                        "changed", student, r, 100 * st.stop_change)
    return _finish(cfg, root, learned, records)


def run_round(cfg: RunConfig, r: int, student: str, prev_model: Path, folder: Path, lm: Path, vocab: list[str],
              labels: dict[str, list[np.ndarray]], score: Any) -> dict[str, Any]:
    """One round (module docstring): pseudo-labels from ``prev_model``, a new ``student``, figures."""
    st = cfg.self_train
    t0 = time.time()
    device = resolve_device(st.device)
    teacher = load_phone_model(prev_model, map_location=str(device))
    _, teacher_inputs = model_inputs(cfg, teacher.unit, cfg.splits.train)
    weight = st.lm_weight if teacher.unit == "segment" else st.frame_lm_weight
    decoder = PhoneLMDecoder(lm, vocab, PhoneLMDecoderConfig(lm_weight=weight, beam_size=st.beam_size))
    paths = decoder.decode_paths(predict_log_probs(teacher, teacher_inputs))
    bounds = load_segments(segments_path(cfg, cfg.splits.train)).boundaries
    if teacher.unit == "segment" and student == "frame":
        paths = segments_to_frames(paths, bounds)
    elif teacher.unit == "frame" and student == "segment":
        paths = frames_to_segments(paths, bounds)
    changed = change_rate(labels[student], paths) if student in labels else 1.0
    labels[student] = paths
    _, inputs = model_inputs(cfg, student, cfg.splits.train)
    model = _new_student(st, student, inputs[0].shape[1], vocab)
    history = train_student(model, inputs, paths, epochs=st.epochs if student == "segment" else st.frame_epochs,
                            batch_size=st.batch_size, lr=st.lr, weight_decay=st.weight_decay, seed=st.seed + r,
                            device=device)
    record = {"round": r, "student": student, "unit": student, "changed": changed,
              "weighted_lm_ppl": _valid_score(cfg, model, score), "train": history[-1],
              "silence_share": float(np.mean(np.concatenate(paths) == vocab.index("<SIL>"))),
              "seconds": time.time() - t0}
    save_phone_model(folder / MODEL, model, round=r, weighted_lm_ppl=record["weighted_lm_ppl"])
    def write_labels(tmp: Path) -> None:
        with tmp.open("wb") as f:
            np.savez(f, *paths)

    atomic_write(folder / "labels.npz", write_labels)
    atomic_write_json(folder / "record.json", record)
    return record


def _new_student(st: Any, student: str, dim: int, vocab: list[str]) -> PhoneModel:
    torch.manual_seed(st.seed)
    if student == "segment":
        return SegmentStudent(dim, vocab, hidden=st.hidden, layers=st.layers, dropout=st.dropout)
    return FrameStudent(dim, vocab, hidden=st.hidden, layers=st.layers + 1, dropout=st.dropout, splice=st.splice)


def _valid_score(cfg: RunConfig, model: PhoneModel, score: Any) -> float:
    """Weighted LM perplexity of the model's Viterbi output on the unlabelled valid split."""
    _, inputs = model_inputs(cfg, model.unit, cfg.splits.valid)
    viterbi = viterbi_config(cfg, model.unit)
    return float(score([decode_one(lp, model.vocab, viterbi) for lp in predict_log_probs(model, inputs)]))


def _finish(cfg: RunConfig, root: Path, learned: Path, records: list[dict[str, Any]]) -> Path:
    """Candidates, the selected model as ``best.pt``, ``summary.json``."""
    def checkpoint(rec: dict[str, Any]) -> Path:
        return learned if rec["round"] == 0 else root / f"round{rec['round']}" / MODEL

    candidates = [Candidate(tag=f"round{rec['round']}", checkpoint=os.path.relpath(checkpoint(rec), root),
                            step=rec["round"], scores={"weighted_lm_ppl": rec["weighted_lm_ppl"]}) for rec in records]
    write_candidates(root, candidates)
    if cfg.self_train.select == "last":
        chosen = records[-1]
        rule = "the last round's student"
    else:
        chosen = min(records, key=lambda rec: rec["weighted_lm_ppl"])
        rule = "lowest weighted LM perplexity of the Viterbi output on unlabelled valid audio (learner included)"
    atomic_write(root / "best.pt", lambda p: shutil.copyfile(checkpoint(chosen), p))
    atomic_write_json(root / "summary.json", {"rounds": records, "selected_round": chosen["round"], "rule": rule})
    atomic_write_json(root / "selection.json", {
        "learner": "self_train", "rule": rule, "score": chosen["weighted_lm_ppl"], "checkpoint": "best.pt",
        "info": {"selected": f"round{chosen['round']}"}})
    logger.info("[self_train] %d rounds; final model: round %d (%s) -> %s", len(records) - 1, chosen["round"], rule,
                root / "best.pt")
    return root / "best.pt"


def _load_labels(folder: Path) -> list[np.ndarray]:
    with np.load(folder / "labels.npz") as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


def _done_record(folder: Path) -> Any:
    path = folder / DONE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not finished: run the segment stage first")
    return json.loads(path.read_text(encoding="utf-8"))


def _up_to_date(folder: Path, identity: dict[str, Any]) -> bool:
    return is_done(folder) and json.loads((folder / DONE).read_text()) == json.loads(json.dumps(identity))
