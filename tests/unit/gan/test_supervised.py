"""The supervised diagnostic ceiling learns an easy labelled task."""

from __future__ import annotations

from gan.config import GanConfig, GeneratorConfig
from gan.generator import predict_log_probs
from gan.supervised import train_supervised
from gan.synthetic import DecipherConfig, make_decipher_task
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.metrics.edit import error_rate


def test_supervised_generator_learns() -> None:
    task = make_decipher_task(
        DecipherConfig(
            num_phones=10, num_words=40, dim=16, noise_std=0.5, num_train=150, num_valid=5, num_test=40, num_text=10
        )
    )
    refs = [task.ids_to_phones(y) for y in task.test_labels]
    for generator in (GeneratorConfig(num_clusters=0), GeneratorConfig(num_clusters=22)):
        cfg = GanConfig(generator=generator, lr_generator=1e-2)
        gen = train_supervised(cfg, task.train, task.train_labels, task.vocab, num_updates=150, seed=0)
        hyps = [decode_one(lp, task.vocab) for lp in predict_log_probs(gen, task.test)]
        assert error_rate(refs, hyps).rate < 0.05, generator
