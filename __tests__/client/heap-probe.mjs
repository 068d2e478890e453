/**
 * Run by resources.test.ts as
 * `node --expose-gc heap-probe.mjs <apiUrl> <apiKey> <warmup> <callsPerRound> <rounds>`:
 * makes `warmup` approval waits through the built core (lib/, built by `npm test`'s pretest),
 * then `rounds` rounds of `callsPerRound` more, collecting garbage and sampling the heap after
 * the warm-up and after each round, and prints one JSON line: {"samples":[…], "listeners":…}.
 * A separate process, so the heap holds only the core's own objects (not Jest's, the test
 * server's or other tests') and `gc()` is real.
 * The test's server decides each approval while its long-poll is held.
 */
import { getEventListeners } from 'node:events'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { requireApproval } from '../../lib/client/index.js'

const [apiUrl, apiKey, warmup, calls, rounds] = process.argv.slice(2)
if (typeof globalThis.gc !== 'function') throw new Error('heap-probe.mjs needs node --expose-gc')

const controller = new AbortController()
const runOne = () => requireApproval('many', { apiUrl, apiKey, timeoutMs: 30_000, pollIntervalMs: 20, signal: controller.signal })

/** Heap in use after full collections (twice, with a turn between, so finalizers have run). */
async function settledHeap() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await nextTurn()
  }
  return process.memoryUsage().heapUsed
}

for (let i = 0; i < Number(warmup); i++) await runOne() // JIT, the connection pool, lazy modules
const samples = [await settledHeap()]
for (let round = 0; round < Number(rounds); round++) {
  for (let i = 0; i < Number(calls); i++) await runOne()
  samples.push(await settledHeap())
}
process.stdout.write(`${JSON.stringify({ samples, listeners: getEventListeners(controller.signal, 'abort').length })}\n`)
