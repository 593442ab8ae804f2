"""Decoders turning generator outputs ``(B,S,V)`` into phone (or word) sequences."""

from unsup_asr.decode.viterbi import ViterbiConfig, ViterbiDecoder, decode_one

__all__ = ["ViterbiConfig", "ViterbiDecoder", "decode_one"]
