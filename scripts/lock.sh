#!/usr/bin/env bash
# Re-resolves the lock: `scripts/lock.sh` takes the newest release of everything pyproject.toml
# allows (and the newest uv, into scripts/uv-requirements.txt); `scripts/lock.sh --keep` changes
# only what an edit of pyproject.toml needs (a dependency added, a range moved). Then it installs
# the new lock into .venv. Run scripts/test.sh and commit uv.lock (docs/development.md).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--keep" ]; then
  scripts/uv.sh lock
else
  scripts/uv.sh lock --upgrade
  # uv itself, every platform's wheel hash, for pip's --require-hashes.
  new="$(echo uv | scripts/uv.sh pip compile - --universal --generate-hashes --upgrade --no-header --quiet)"
  printf '%s\n%s\n' "# uv, the installer scripts/uv.sh runs (pip installs it with --require-hashes). Written by scripts/lock.sh." \
    "$new" > scripts/uv-requirements.txt
fi
scripts/setup.sh dev
git --no-pager diff --stat -- uv.lock scripts/uv-requirements.txt 2>/dev/null || true
echo "lock: now run scripts/test.sh, then commit uv.lock and scripts/uv-requirements.txt" >&2
