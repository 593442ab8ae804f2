#!/usr/bin/env bash
# Numbered stages of a recipe (each recipes/<name>/run.sh calls this); run from the repository root:
#   bash scripts/run_recipe.sh <recipe> [stage] [stop_stage] [key=value overrides ...]
# e.g. `bash scripts/run_recipe.sh real_small 4 7 learner.restarts=16` re-learns, self-trains, decodes and scores.
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=${1:?usage: run_recipe.sh <recipe> [stage] [stop_stage] [overrides...]}
shift
stage=${1:-0}
stop_stage=${2:-7}
shift $(( $# < 2 ? $# : 2 ))
uasr=".venv/bin/uasr"
[ -x "$uasr" ] || uasr="uasr"
stages=(prepare_data extract_features prepare_text segment learn self_train decode score)
for i in "${!stages[@]}"; do
  if [ "$i" -ge "$stage" ] && [ "$i" -le "$stop_stage" ]; then
    echo "== stage $i: ${stages[$i]}"
    "$uasr" "${stages[$i]}" --config-dir "recipes/$recipe/conf" "$@"
  fi
done
