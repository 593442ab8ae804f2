#!/usr/bin/env bash
# Stages 0-6 of this recipe: bash recipes/ljspeech/run.sh [stage] [stop_stage] [key=value ...]
# (0 prepare_data, 1 extract_features, 2 prepare_text, 3 segment, 4 learn, 5 self_train, 6 decode, 7 score)
exec bash "$(dirname "$0")/../../scripts/run_recipe.sh" ljspeech "$@"
