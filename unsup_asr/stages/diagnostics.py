"""Diagnostics of the score stage that **use labels** (never for training or selection):

* :func:`selection_report`: how well a learner's (or self-training's) label-free rule ranked the
  checkpoints it evaluated: the chosen one's label-free score and PER, the lowest PER among all
  candidates, and the Spearman rank correlation between each label-free score and PER;
* :func:`learning_check`: per-segment accuracy of the run's model against the gold phone of each
  segment (majority over its frames), beside the same figure for *random* cluster -> phone tables
  drawn at the text's phone frequencies and for the *perfect* table (each cluster's majority gold
  phone, estimated on the evaluated split itself: an oracle). Between 85 and 95 % PER, PER alone
  cannot tell a learned mapping from a lucky one; accuracy above the best random table can.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from gan.learner import read_candidates
from gan.phone_model import PhoneModel, load_phone_model, predict_log_probs
from unsup_asr.config import RunConfig
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.timemap import TimeMap
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.kmeans import assign, fit_kmeans
from unsup_asr.metrics.edit import per
from unsup_asr.metrics.pnmi import cluster_quality
from unsup_asr.stages.common import model_inputs, viterbi_config
from unsup_asr.stages.references import hypothesis_mapping, phone_mapping, reference_phones
from unsup_asr.stages.segment import SegmentSet

NOTE = ("diagnostics that USE LABELS (reported only; never used for training, selection or stopping): "
        "PER of every evaluated checkpoint, rank correlation of label-free scores with PER, per-segment accuracy")


def selection_report(cfg: RunConfig, folder: Path, utts: Sequence[Utterance]) -> dict[str, Any] | None:
    """Rank agreement of the label-free scores in ``folder/candidates.jsonl`` with test PER (None if
    the folder has no candidates). ``folder/selection.json`` names the chosen candidate."""
    import json

    candidates = read_candidates(folder)
    if not candidates:
        return None
    selection = json.loads((folder / "selection.json").read_text(encoding="utf-8"))
    refs = reference_phones(cfg, list(utts))
    convert = hypothesis_mapping(cfg, list(utts))
    rates: dict[str, float] = {}
    for cand in candidates:
        model = load_phone_model(folder / cand.checkpoint)
        ids, inputs = model_inputs(cfg, model.unit, cfg.splits.test)
        order = {u: i for i, u in enumerate(ids)}
        lps = predict_log_probs(model, inputs)
        viterbi = viterbi_config(cfg, model.unit)
        hyps = [convert(decode_one(lps[order[u.id]], model.vocab, viterbi)) for u in utts]
        rates[cand.tag] = per(refs, hyps).rate
    chosen = selection.get("info", {}).get("selected")
    if chosen not in rates:  # a plug-in learner that names no candidate: the one with the chosen score
        chosen = min(candidates, key=lambda c: abs(next(iter(c.scores.values())) - selection["score"])).tag
    best = min(rates, key=lambda t: rates[t])
    report: dict[str, Any] = {
        "rule": selection["rule"], "selected": chosen, "selected_label_free_score": selection["score"],
        "selected_per": rates[chosen], "best_per_seen": rates[best], "best_per_candidate": best,
        "num_candidates": len(candidates), "per_by_candidate": rates,
    }
    for key in sorted({k for c in candidates for k in c.scores}):
        pairs = [(c.scores[key], rates[c.tag]) for c in candidates if key in c.scores]
        xs, ys = zip(*pairs, strict=True)
        rho = spearmanr(xs, ys).statistic if len(pairs) > 2 and len(set(xs)) > 1 and len(set(ys)) > 1 else float("nan")
        report[f"spearman_{key}_vs_per"] = float(rho)
    return report


def gold_segment_labels(utt: Utterance, boundaries: np.ndarray, shift_s: float, silence: str) -> list[str]:
    """Majority gold phone (reference phone set) of each segment; frames outside the alignment count as silence."""
    if utt.alignment is None:
        raise ValueError(f"utterance {utt.id} has no phone alignment")
    n = len(boundaries)
    centres = TimeMap.of(utt).to_original((np.arange(n) + 0.5) * shift_s)
    frames = np.full(n, silence, dtype=object)
    for start, end, phone in utt.alignment:
        frames[(centres >= start) & (centres < end)] = phone
    starts = np.flatnonzero(boundaries)
    ends = np.append(starts[1:], n)
    return [Counter(frames[s:e].tolist()).most_common(1)[0][0] for s, e in zip(starts, ends, strict=True)]


def segment_predictions(model: PhoneModel, cfg: RunConfig, split: str, segs: SegmentSet) -> list[np.ndarray]:
    """The model's phone id per segment: argmax of its output (segment model) or of the summed frame
    log-probabilities within the segment (frame model)."""
    _, inputs = model_inputs(cfg, model.unit, split)
    lps = predict_log_probs(model, inputs)
    if model.unit == "segment":
        return [lp.argmax(1) for lp in lps]
    out = []
    for lp, bounds in zip(lps, segs.boundaries, strict=True):
        seg_of_frame = np.cumsum(bounds[: len(lp)]) - 1
        sums = np.zeros((int(bounds.sum()), lp.shape[1]))
        np.add.at(sums, seg_of_frame, lp)
        out.append(sums.argmax(1))
    return out


def learning_check(cfg: RunConfig, model: PhoneModel, train: SegmentSet, test: SegmentSet,
                   utts: dict[str, Utterance], text_counts: Counter[str], *, num_clusters: int, draws: int = 20,
                   seed: int = 0) -> dict[str, Any]:
    """Per-segment accuracy of ``model`` on ``test``, of ``draws`` random tables over k-means(``num_clusters``)
    clusters (fitted on ``train``'s segments, no labels) drawn at ``text_counts`` frequencies, and of the
    perfect table (module docstring)."""
    ordered = [utts[u] for u in test.ids]
    to_ref: Callable[[str], str] = phone_mapping(cfg, ordered)
    silence = to_ref("<SIL>")
    gold = np.asarray([g for u, b in zip(ordered, test.boundaries, strict=True)
                       for g in gold_segment_labels(u, b, test.frame_shift_s, silence)], dtype=object)
    vocab = model.vocab
    predicted = np.concatenate(segment_predictions(model, cfg, cfg.splits.test, test))
    model_acc = float(np.mean(np.asarray([to_ref(vocab[i]) for i in predicted], dtype=object) == gold))
    rng = np.random.default_rng(seed)
    train_points = np.concatenate(train.embeddings)
    train_points = train_points[rng.permutation(len(train_points))[:100_000]]
    k = min(num_clusters, len(train_points))
    centroids = fit_kmeans(_normed(train_points), k, seed=seed)
    clusters = assign(_normed(np.concatenate(test.embeddings)), centroids)
    phones = sorted(text_counts)
    freq = np.asarray([text_counts[p] for p in phones], dtype=np.float64)
    random_accs = []
    for _ in range(draws):
        table = np.asarray([to_ref(p) for p in rng.choice(phones, size=k, p=freq / freq.sum())], dtype=object)
        random_accs.append(float(np.mean(table[clusters] == gold)))
    perfect = np.empty(k, dtype=object)
    for c in range(k):
        members = gold[clusters == c]
        perfect[c] = Counter(members.tolist()).most_common(1)[0][0] if len(members) else silence
    phone_ids = {p: i for i, p in enumerate(sorted(set(gold.tolist())))}
    counts = np.zeros((k, len(phone_ids)))
    np.add.at(counts, (clusters, np.asarray([phone_ids[g] for g in gold], dtype=np.int64)), 1)
    return {
        "split": cfg.splits.test, "num_segments": len(gold), "num_clusters": k,
        "accuracy_model": model_acc,
        "accuracy_random_tables_mean": float(np.mean(random_accs)),
        "accuracy_random_tables_max": float(np.max(random_accs)),
        "accuracy_perfect_table": float(np.mean(perfect[clusters] == gold)),
        "pnmi_segment_clusters": cluster_quality(counts).pnmi if len(phone_ids) > 1 else 0.0,
        "learned": bool(model_acc >= 2 * max(random_accs)),
        "note": (f"per-segment accuracy against the majority gold phone; random tables: {draws} cluster->phone tables "
                 "drawn at the unpaired text's phone frequencies; perfect table: each cluster's majority gold phone on "
                 "this split (oracle); pnmi_segment_clusters: PNMI of those clusters against the segments' gold "
                 "phones (how much phone information the segments carry). learned = model accuracy at least twice "
                 "the best random table's"),
    }


def _normed(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    x = x - x.mean(1, keepdims=True)
    return np.asarray(x / np.sqrt((x**2).mean(1, keepdims=True) + 1e-5), dtype=np.float32)
