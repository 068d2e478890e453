/**
 * The dashboard's only script (progressive enhancement: every form also works without it).
 * It keeps "pending for" timers ticking, decides in place, and follows the server-sent event
 * stream so cards appear and leave live and the tab title shows the pending count.
 * Card markup always comes from the server, already escaped; this script never builds HTML
 * from request data.
 */
import { formatElapsed } from './elapsed.js'

interface LiveMessage {
  type: 'created' | 'voted' | 'approved' | 'rejected' | 'cancelled' | 'expired'
  id: string
  status: string
  decided_by: string | null
  pending: number
  html: string
}

interface DecisionReply {
  result?: 'decided' | 'voted' | 'lost' | 'refused'
  message?: string
  html?: string
  error?: { message?: string }
}

const body = document.body
const liveMode = body.dataset.live ?? ''

/**
 * How long a decided card stays on the home page, showing who decided, before it leaves:
 * 6 s, unless the server was started with another `resolvedCardLingerMs` (tests use a short
 * one), which the page carries as `data-linger-ms`.
 */
const RESOLVED_LINGER_MS = lingerFromPage(body.dataset.lingerMs, 6_000)

function lingerFromPage(attribute: string | undefined, fallback: number): number {
  const ms = attribute === undefined || attribute === '' ? Number.NaN : Number(attribute)
  return Number.isFinite(ms) && ms >= 0 ? ms : fallback
}

function elementFromHtml(markup: string): HTMLElement | null {
  const template = document.createElement('template')
  template.innerHTML = markup.trim()
  const element = template.content.firstElementChild
  if (!(element instanceof HTMLElement)) return null
  fillCsrf(element)
  return element
}

/**
 * Live cards are rendered once for every viewer of a project, so their forms come without
 * a CSRF token: give them this page's (the sign-out form in the top bar carries it).
 */
function fillCsrf(root: HTMLElement): void {
  const token = document.querySelector<HTMLInputElement>('header input[name="_csrf"]')?.value ?? ''
  for (const input of root.querySelectorAll<HTMLInputElement>('input[name="_csrf"]')) if (!input.value) input.value = token
}

// ---- pending count: tab title and nav badge ----
function setPending(count: number): void {
  body.dataset.pending = String(count)
  document.title = `${count > 0 ? `(${count}) ` : ''}${body.dataset.title ?? 'Approvals'} · approval-gate`
  for (const badge of document.querySelectorAll<HTMLElement>('[data-pending-count]')) {
    badge.textContent = String(count)
    badge.hidden = count === 0
  }
}

// ---- clocks ----
function tick(): void {
  const now = Date.now()
  for (const el of document.querySelectorAll<HTMLElement>('[data-since]')) {
    const since = Date.parse(el.dataset.since ?? '')
    if (!Number.isNaN(since)) el.textContent = formatElapsed(now - since)
  }
  for (const el of document.querySelectorAll<HTMLElement>('[data-until]')) {
    const until = Date.parse(el.dataset.until ?? '')
    if (!Number.isNaN(until)) el.textContent = until > now ? `in ${formatElapsed(until - now)}` : 'now'
  }
}

function localiseTimes(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLTimeElement>('time[data-local]')) {
    const date = new Date(el.dateTime)
    if (!Number.isNaN(date.getTime())) el.title = date.toLocaleString()
  }
}

// ---- cards ----
function cardsContainer(): HTMLElement | null {
  return document.querySelector<HTMLElement>('[data-cards]')
}

function findCard(id: string): HTMLElement | null {
  return document.querySelector<HTMLElement>(`article[data-approval-id="${CSS.escape(id)}"]`)
}

function updateEmptyState(): void {
  const empty = document.querySelector<HTMLElement>('[data-empty]')
  if (!empty) return
  empty.hidden = (cardsContainer()?.querySelector('article[data-approval-id]') ?? null) !== null
}

/** Replaces a card with its resolved version; on the home page it leaves after a short while. */
function resolveCard(card: HTMLElement, markup: string, note?: string): void {
  const replacement = elementFromHtml(markup)
  if (!replacement) return
  if (note) {
    const p = document.createElement('p')
    p.className = 'notice notice-info'
    p.setAttribute('role', 'status')
    p.textContent = note
    replacement.insertBefore(p, replacement.children[1] ?? null)
  }
  // On an approval's own page the title is the page's h1: keep it (stream cards carry an h2 link).
  const pageHeading = card.querySelector('h1.card-title')
  const cardHeading = replacement.querySelector('h2.card-title')
  if (pageHeading && cardHeading) cardHeading.replaceWith(pageHeading.cloneNode(true))
  localiseTimes(replacement)
  // A vote by someone else re-renders a pending card: keep the reason this viewer is typing.
  const typed = card.querySelector<HTMLTextAreaElement>('textarea[name="reason"]')?.value
  const reasonBox = replacement.querySelector<HTMLTextAreaElement>('textarea[name="reason"]')
  if (typed && reasonBox) reasonBox.value = typed
  const hadFocus = card.contains(document.activeElement)
  card.replaceWith(replacement)
  if (hadFocus) {
    replacement.tabIndex = -1
    replacement.focus()
  }
  if (liveMode === 'home' && replacement.dataset.status !== 'pending') {
    replacement.classList.add('card-leaving')
    window.setTimeout(() => {
      replacement.remove()
      updateEmptyState()
    }, RESOLVED_LINGER_MS)
  }
}

function onLiveMessage(message: LiveMessage): void {
  setPending(message.pending)
  const existing = findCard(message.id)
  if (message.type === 'created') {
    if (existing || liveMode !== 'home') return
    const card = elementFromHtml(message.html)
    const container = cardsContainer()
    if (!card || !container) return
    card.classList.add('card-new')
    localiseTimes(card)
    container.prepend(card)
    updateEmptyState()
    return
  }
  if (existing && existing.dataset.status === 'pending') {
    const mine = existing.dataset.deciding === 'true'
    if (!mine) resolveCard(existing, message.html)
  }
}

// ---- the event stream ----
function connect(projectId: string): void {
  let failed = false
  const source = new EventSource(`/events?project=${encodeURIComponent(projectId)}`)
  source.addEventListener('approval', (event) => {
    try {
      onLiveMessage(JSON.parse((event as MessageEvent<string>).data) as LiveMessage)
    } catch {
      // A malformed message is skipped; the next one carries the full state of its card.
    }
  })
  source.addEventListener('open', () => {
    body.dataset.connected = 'true'
    if (failed) void refreshCards()
    failed = false
  })
  source.addEventListener('error', () => {
    body.dataset.connected = 'false'
    failed = true
  })
}

/** After a reconnect, events may have been missed: reload the card list unless someone is typing in it. */
async function refreshCards(): Promise<void> {
  const container = cardsContainer()
  if (!container || liveMode !== 'home') return
  const typing = [...container.querySelectorAll('textarea')].some((t) => t.value !== '' || t === document.activeElement)
  if (typing) return
  const response = await fetch(location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin' })
  if (!response.ok) return
  const fresh = new DOMParser().parseFromString(await response.text(), 'text/html').querySelector('[data-cards]')
  if (!fresh) return
  container.replaceChildren(...[...fresh.children].map((child) => document.importNode(child, true)))
  localiseTimes(container)
  updateEmptyState()
}

// ---- deciding in place ----
async function decide(form: HTMLFormElement, submitter: HTMLElement | null): Promise<void> {
  const card = form.closest<HTMLElement>('article[data-approval-id]')
  const status = form.querySelector<HTMLElement>('.decide-status')
  const buttons = [...form.querySelectorAll<HTMLButtonElement>('button')]
  const show = (text: string) => {
    if (status) status.textContent = text
  }
  const data = new FormData(form, submitter)
  if (card) card.dataset.deciding = 'true'
  for (const button of buttons) button.disabled = true
  show('Sending…')
  try {
    const response = await fetch(form.action, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(data as unknown as Record<string, string>).toString(),
      credentials: 'same-origin',
    })
    const reply = (await response.json().catch(() => ({}))) as DecisionReply
    if (card && reply.html && reply.result !== undefined) {
      // Decided, counted (the card shows the progress), lost the race, or refused (the card says why).
      resolveCard(card, reply.html, reply.result === 'lost' || reply.result === 'refused' ? reply.message : undefined)
      return
    }
    show(reply.message ?? reply.error?.message ?? `The server answered ${response.status}. Reload and try again.`)
  } catch {
    show('Could not reach the server. Check your connection and try again.')
  } finally {
    if (card) delete card.dataset.deciding
    for (const button of buttons) button.disabled = false
  }
}

document.addEventListener('submit', (event) => {
  const form = event.target
  if (!(form instanceof HTMLFormElement) || !form.matches('form[data-decide]')) return
  event.preventDefault()
  void decide(form, event.submitter)
})

// ---- small helpers: project switcher, copy the new key ----
for (const select of document.querySelectorAll<HTMLSelectElement>('form[data-autosubmit] select')) {
  select.addEventListener('change', () => select.form?.requestSubmit())
}
for (const button of document.querySelectorAll<HTMLButtonElement>('[data-copy]')) {
  const input = document.getElementById(button.dataset.copy ?? '')
  if (!(input instanceof HTMLInputElement)) continue
  button.hidden = false
  button.addEventListener('click', () => {
    input.select()
    void navigator.clipboard?.writeText(input.value).then(() => {
      button.textContent = 'Copied'
    })
  })
}
for (const input of document.querySelectorAll<HTMLInputElement>('[data-select-on-focus]')) {
  input.addEventListener('focus', () => input.select())
}

localiseTimes(document)
tick()
window.setInterval(tick, 1000)
if (body.dataset.stream) connect(body.dataset.stream)
