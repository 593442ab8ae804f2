"""Segmental Audio Word2Vec segmenter (``segmenter=sawv``; Wang et al., Interspeech 2018).

Joint segmentation and segment embedding trained without labels: a convolutional boundary policy
decides per frame whether a segment starts, a segment autoencoder embeds each segment and
reconstructs its frames, and the objective is reconstruction error plus λ per segment, with λ
adapted towards a target segment rate. Modules: :mod:`.config`, :mod:`.model` (network),
:mod:`.spans` (segment index bookkeeping), :mod:`.objective` (loss and the policy-gradient
estimator, with the reasons for choosing it), :mod:`.train` (training loop), :mod:`.segmenter`
(the registered :class:`~segmentation.base.Segmenter`).
"""

from segmentation.sawv.config import SawvConfig
from segmentation.sawv.segmenter import SawvSegmenter

__all__ = ["SawvConfig", "SawvSegmenter"]
