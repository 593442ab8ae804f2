"""Pipeline stages. Each module has ``run(cfg: RunConfig) -> Path``; ``uasr <stage>`` calls it.

Order: prepare_data, extract_features, prepare_text, segment, learn, self_train, decode, score
(``uasr demo`` / ``uasr all`` run them all; ``train_gan`` is the old name of ``learn``). Every
stage skips work whose completion marker exists, so a killed run resumes from the last completed
stage or checkpoint.
"""

STAGES = ["prepare_data", "extract_features", "prepare_text", "segment", "learn", "self_train", "decode", "score"]
ALIASES = {"train_gan": "learn"}
"""Old stage names that still work on the command line."""
