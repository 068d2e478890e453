/**
 * Slack's request signature as Slack documents it (the example from its "Verifying requests"
 * guide), the five-minute window, and the replay memory: a signature is refused again until its
 * timestamp leaves the window, and a full memory refuses rather than forgets early.
 */
import { describe, expect, it } from '@jest/globals'
import { checkSlackSignature, ReplayGuard, SIGNATURE_WINDOW_MS, slackSignature } from '../../../src/server/slack/signature.js'

// Slack's published example: signing secret, timestamp, body and the signature it yields.
const SECRET = '8f742231b10e8888abcd99yyyzzz85a5'
const TIMESTAMP = '1531420618'
const BODY = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c'
const EXPECTED = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503'
const AT = Number(TIMESTAMP) * 1000

describe('Slack request signatures', () => {
  it("matches Slack's published example and accepts it within the window", () => {
    expect(slackSignature(SECRET, TIMESTAMP, BODY)).toBe(EXPECTED)
    expect(checkSlackSignature(SECRET, Buffer.from(BODY), { timestamp: TIMESTAMP, signature: EXPECTED }, AT + 60_000)).toBeNull()
  })

  it('refuses another secret, a changed body, a stale or future timestamp, and malformed headers', () => {
    const check = (secret: string, body: string, headers: { timestamp?: string; signature?: string }, now = AT) =>
      checkSlackSignature(secret, Buffer.from(body), { timestamp: headers.timestamp, signature: headers.signature }, now)
    expect(check('another-secret', BODY, { timestamp: TIMESTAMP, signature: EXPECTED })).toBe('bad_signature')
    expect(check(SECRET, `${BODY}&x=1`, { timestamp: TIMESTAMP, signature: EXPECTED })).toBe('bad_signature')
    expect(check(SECRET, BODY, { timestamp: TIMESTAMP, signature: EXPECTED }, AT + SIGNATURE_WINDOW_MS + 1_000)).toBe('stale_timestamp')
    expect(check(SECRET, BODY, { timestamp: TIMESTAMP, signature: EXPECTED }, AT - SIGNATURE_WINDOW_MS - 1_000)).toBe('stale_timestamp')
    expect(check(SECRET, BODY, { timestamp: TIMESTAMP })).toBe('missing_signature')
    expect(check(SECRET, BODY, { signature: EXPECTED })).toBe('missing_signature')
    expect(check(SECRET, BODY, { timestamp: '1.5e9', signature: EXPECTED })).toBe('missing_signature')
    expect(check(SECRET, BODY, { timestamp: TIMESTAMP, signature: EXPECTED.toUpperCase() })).toBe('missing_signature')
    expect(check(SECRET, BODY, { timestamp: TIMESTAMP, signature: `v1=${EXPECTED.slice(3)}` })).toBe('missing_signature')
  })

  it('remembers a signature until its timestamp leaves the window, and refuses when full instead of forgetting early', () => {
    const guard = new ReplayGuard(2)
    const seconds = AT / 1000
    expect(guard.remember('v0=a', seconds, AT)).toBeNull()
    expect(guard.remember('v0=a', seconds, AT + 1_000)).toBe('replayed')
    expect(guard.remember('v0=b', seconds, AT + 2_000)).toBeNull()
    expect(guard.remember('v0=c', seconds, AT + 3_000)).toBe('too_many')
    expect(guard.remember('v0=a', seconds, AT + SIGNATURE_WINDOW_MS - 1)).toBe('replayed')
    // Past the window the old ones are forgotten (the timestamp check refuses them by then).
    expect(guard.remember('v0=c', seconds + 400, AT + SIGNATURE_WINDOW_MS + 1)).toBeNull()
    expect(guard.remember('v0=a', seconds + 400, AT + SIGNATURE_WINDOW_MS + 2)).toBeNull()
  })
})
