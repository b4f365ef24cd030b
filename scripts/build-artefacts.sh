#!/usr/bin/env bash
# Builds what the service loads at start-up and that is not shipped in the repository.
# Each step skips itself when its output is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
