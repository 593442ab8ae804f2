"""unsup-asr: unsupervised speech recognition and segmentation."""

__version__ = "0.1.0"
