#!/usr/bin/env bash
# `npm run test:loaded`: `npm test` while two busy loops compete for the CPU (this project is
# developed on 2-core machines shared with other work). The suite must pass like this: tests
# wait for conditions (waitUntil, Playwright's auto-waiting), never for spare CPU.
# Stops the loops (by their process ids) however it ends, and exits with npm test's status.
# Arguments go to npm test (`npm run test:loaded -- __tests__/dashboard`).
set -u
cd "$(dirname "$0")/.."

loops=()
stop_loops() {
  for pid in "${loops[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${loops[@]}"; do wait "$pid" 2>/dev/null; done
  loops=()
}
trap stop_loops EXIT
trap 'exit 130' INT TERM

for _ in 1 2; do
  bash -c 'while :; do :; done' &
  loops+=("$!")
done
echo "test:loaded: busy loops ${loops[*]} running; starting npm test" >&2

started=$SECONDS
npm test -- "$@"
status=$?
stop_loops
echo "test:loaded: npm test exited $status after $((SECONDS - started)) s beside two busy loops" >&2
exit $status
