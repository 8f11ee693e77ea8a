#!/usr/bin/env bash
# The wheels a fresh install of findly-infra needs, with every extra, into one folder (default .wheelhouse): the
# install tests (tests/install) build our wheel and install it with one extra at a time from there, offline, as a
# user's `pip install 'findly-infra[gke]'` would — without reaching the network from a test. .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.wheelhouse}"
python -m pip download --quiet --dest "$dest" '.[prometheus,kubernetes,postgresql,github,gke,secret-manager,dns,testing]' \
  hatchling pip setuptools wheel 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "$dest: $(ls "$dest" | wc -l) files"
