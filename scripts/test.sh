#!/usr/bin/env bash
# `npm test` after its pretest build: the two Jest projects of jest.config.js, one after the other.
#   1. unit   — in-process and light process tests, two workers;
#   2. serial — Chromium, end-to-end, fault, replica, PostgreSQL and Python suites, one file at a time (--runInBand).
# Jest 30 cannot give one project a different worker count inside a single run, hence two runs.
# Both always run; the exit status is non-zero if either failed. Arguments go to both runs
# (`npm test -- __tests__/faults` runs only what matches, in whichever project holds it).
# Run it through npm (`npm test`), which puts Node 24 from node_modules/.bin first on PATH.
set -u
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--experimental-vm-modules --disable-warning=ExperimentalWarning"

# With a filter, one project may hold none of the matching files: that is not a failure then.
filter=()
[ $# -gt 0 ] && filter=(--passWithNoTests)

# (--selectProjects takes several values, so it goes last: it would swallow the arguments.)
jest "${filter[@]}" "$@" --selectProjects unit
unit=$?
jest --runInBand "${filter[@]}" "$@" --selectProjects serial
serial=$?

status() { [ "$1" = 0 ] && echo passed || echo "FAILED (exit $1)"; }
echo "npm test: unit $(status $unit); serial (browser, e2e, faults, PostgreSQL, Python) $(status $serial)"
[ $unit = 0 ] && [ $serial = 0 ]
