"""The library's own small self-supervised speech model (HuBERT-style masked prediction).

:mod:`~unsup_asr.ssl.config` (model and pre-training settings), :mod:`~unsup_asr.ssl.model` (the
network), :mod:`~unsup_asr.ssl.masking` (span masks), :mod:`~unsup_asr.ssl.pretrain` (the
``uasr ssl-pretrain`` loop). The featurizer that reads its checkpoints is
:mod:`unsup_asr.features.ssl` (``features=ssl features.path=...``).
"""
