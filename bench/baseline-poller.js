// The naive baseline the benchmarks compare against: a poller that behaves as the seed's
// documented defaults (reference/jamjet-cloud-approvals.txt: "polls the API at pollIntervalMs
// intervals", pollIntervalMs 5 s). It creates the approval, sleeps the interval, checks, and
// repeats — so its first check comes 5 s after creation and a decision waits on average half an
// interval (~2.5 s) to be seen, at 720 requests per waited hour. Plain `fetch`, no long-poll.

export const NAIVE_POLL_INTERVAL_MS = 5_000

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(new Error('abandoned'))
      },
      { once: true },
    )
  })

/**
 * Asks for approval of `action` and polls every `pollIntervalMs` until the status leaves
 * `pending`. Resolves with the approval id when approved; throws on anything else, or when
 * `signal` aborts. `onCreated(id)` hears the id; `onCheck()` each status check as it starts.
 */
export async function naiveRequireApproval(action, { apiUrl, apiKey, pollIntervalMs = NAIVE_POLL_INTERVAL_MS, signal, onCreated, onCheck }) {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }
  const response = await fetch(`${apiUrl}/v1/approvals`, { method: 'POST', headers, body: JSON.stringify({ action, context: {} }), signal })
  if (!response.ok) throw new Error(`naive poller: create answered ${response.status}`)
  const created = await response.json()
  onCreated?.(created.id)
  for (;;) {
    await sleep(pollIntervalMs, signal)
    onCheck?.()
    const record = await (await fetch(`${apiUrl}/v1/approvals/${encodeURIComponent(created.id)}`, { headers, signal })).json()
    if (record.status === 'approved') return created.id
    if (record.status !== 'pending') throw new Error(`naive poller: ${record.status}`)
  }
}
