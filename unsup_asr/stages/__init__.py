"""Pipeline stages. Each module has ``run(cfg: RunConfig) -> Path``; ``uasr <stage>`` calls it.

Order: prepare_data, extract_features, prepare_text, segment, train_gan, decode, score
(``uasr demo`` runs them all). Every stage skips work whose completion marker exists, so a killed
run resumes from the last completed stage or checkpoint.
"""

STAGES = ["prepare_data", "extract_features", "prepare_text", "segment", "train_gan", "decode", "score"]
