#!/usr/bin/env bash
# Builds what the service loads at start-up and that is not shipped in the repository.
# Each step skips itself when its output is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

# Knowledge-base index (kb/): encodes the configured KB once; reused while the file and encoder stay the same.
echo "== knowledge-base index"
.venv/bin/triage kb index

# Default intent classifier (nlu/): trained from the shipped seed data into settings.resolved_nlu_model_dir();
# skipped while the seed data, taxonomy, rules, training code and encoder are unchanged (fingerprint).
echo "== intent classifier (default model)"
.venv/bin/triage nlu build-default
