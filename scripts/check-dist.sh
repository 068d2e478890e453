#!/usr/bin/env bash
# Rebuilds dist/ and fails when it differs from the committed bundle.
set -euo pipefail
npm run bundle >/dev/null
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "dist/ does not match the sources. Run 'npm run bundle' and commit dist/." >&2
  git --no-pager diff --stat -- dist >&2
  exit 1
fi
echo "dist/ matches the sources."
