"""Self-training after any learner (``uasr self_train``): students trained on the LM-decoded
pseudo-labels of the previous model. See :mod:`unsup_asr.stages.self_train` for the loop."""

from gan.selftrain.config import SelfTrainConfig
from gan.selftrain.students import FrameStudent, SegmentStudent, train_student

__all__ = ["FrameStudent", "SegmentStudent", "SelfTrainConfig", "train_student"]
