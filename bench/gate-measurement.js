// The measurement shared by the gate benches (core-latency, real-server-gates): N gates through
// one poller, each decided at a random moment after its creation, timing decision → the waiting
// call resolving; plus one never-decided "rate gate" whose status checks over the window give
// the requests per waited hour. Each bench brings its own server: how to decide a gate and
// where its status checks are recorded.
import { performance } from 'node:perf_hooks'

/** Decisions land uniformly at random in this span (ms) after a gate's approval is created. */
export const DECISION_SPAN_MS = [300, 12_000]

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const roundTenth = (ms) => Math.round(ms * 10) / 10

/**
 * Nearest-rank percentile `p` (0–100) of an ascending array; NaN when it is empty (written to
 * JSON as null).
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/**
 * Runs `gates` gates through `startGate(action, onCreated, signal)` — a poller that resolves once
 * its approval is approved and reports the approval id through `onCreated(id)` — and decides
 * each at a random time in DECISION_SPAN_MS after creation with `decide(id)`. Latency is from
 * calling `decide` to the gate's promise resolving. Meanwhile one more gate is never decided
 * and abandoned (its `signal` aborted) after `windowMs`; `checksOf(id)` then gives the start
 * times (ms) of its status checks, from which the steady rate is extrapolated to an hour.
 * Resolves with the row `{poller, gates, latency_ms: {p50, p99, max}, requests_per_waited_hour,
 * rate_window: {status_checks, span_ms}, elapsed_ms}` that bench/run.js reads; `log` hears a
 * one-line summary.
 */
export async function measureGates({ name, gates, windowMs, startGate, decide, checksOf, log = () => {} }) {
  const latencies = []
  const delay = () => DECISION_SPAN_MS[0] + Math.random() * (DECISION_SPAN_MS[1] - DECISION_SPAN_MS[0])
  const oneGate = async (i) => {
    let decidedAt = 0
    let decision = Promise.resolve()
    await startGate(`bench-${i}`, (id) => {
      decision = sleep(delay()).then(() => {
        decidedAt = performance.now()
        return decide(id)
      })
    })
    const resumedAt = performance.now()
    // Resumed before `decide` returned is possible (the server answers the waiter first).
    await decision
    latencies.push(resumedAt - decidedAt)
  }
  const rateAbort = new AbortController()
  let rateId
  // Rejects when abandoned at the end of the window: that is how it is meant to end.
  const rateGate = startGate('bench-rate', (id) => (rateId = id), rateAbort.signal).catch(() => {})
  const started = performance.now()
  await Promise.all([...Array.from({ length: gates }, (_, i) => oneGate(i)), sleep(windowMs)])
  rateAbort.abort()
  await rateGate
  const starts = rateId === undefined ? [] : (checksOf(rateId) ?? [])
  const span = starts.length > 1 ? starts.at(-1) - starts[0] : Number.NaN
  const perHour = starts.length > 1 ? ((starts.length - 1) / span) * 3_600_000 : Number.NaN
  latencies.sort((a, b) => a - b)
  const row = {
    poller: name,
    gates,
    latency_ms: { p50: roundTenth(percentile(latencies, 50)), p99: roundTenth(percentile(latencies, 99)), max: roundTenth(latencies.at(-1)) },
    // null: the window held fewer than two status checks (long-polls last 30 s: use a window > 60 s).
    requests_per_waited_hour: Number.isFinite(perHour) ? Math.round(perHour) : null,
    rate_window: { status_checks: starts.length, span_ms: Math.round(span) },
    elapsed_ms: Math.round(performance.now() - started),
  }
  log(`  ${name}: p50 ${row.latency_ms.p50} ms, p99 ${row.latency_ms.p99} ms, ~${row.requests_per_waited_hour} requests/waited hour`)
  return row
}
