#!/usr/bin/env bash
# Stages 0-6 of this recipe: bash recipes/librispeech/run.sh [stage] [stop_stage] [key=value ...]
# (0 prepare_data, 1 extract_features, 2 prepare_text, 3 segment, 4 train_gan, 5 decode, 6 score)
exec bash "$(dirname "$0")/../../scripts/run_recipe.sh" librispeech "$@"
