/**
 * A Slack channel's secret holds two values: the bot token that posts and updates messages
 * (`xoxb-…`) and the app's signing secret that proves interaction requests come from Slack.
 * They are stored as one JSON string in the channel's secret, never in its config.
 */

export interface SlackSecret {
  botToken: string
  signingSecret: string
}

const BOT_TOKEN = /^xoxb-[A-Za-z0-9-]{8,250}$/
const SIGNING_SECRET = /^[A-Za-z0-9]{16,128}$/

/** Why a bot token and signing secret are refused, or null: each names what is wrong, never echoes the value. */
export function slackSecretProblem(secret: SlackSecret): string | null {
  if (!BOT_TOKEN.test(secret.botToken)) return 'the Slack bot token must look like xoxb-… (Slack app → OAuth & Permissions → Bot User OAuth Token)'
  if (!SIGNING_SECRET.test(secret.signingSecret)) return 'the Slack signing secret must be 16–128 letters or digits (Slack app → Basic Information → Signing Secret)'
  return null
}

/** The channel secret to store for a Slack channel. @throws Error naming what is wrong. */
export function encodeSlackSecret(secret: SlackSecret): string {
  const problem = slackSecretProblem(secret)
  if (problem) throw new Error(problem)
  return JSON.stringify({ bot_token: secret.botToken, signing_secret: secret.signingSecret })
}

/** Reads a stored Slack channel secret; null when absent or not one (the channel cannot post or verify). */
export function decodeSlackSecret(stored: string | null): SlackSecret | null {
  if (!stored) return null
  try {
    const parsed = JSON.parse(stored) as unknown
    if (!parsed || typeof parsed !== 'object') return null
    const { bot_token: botToken, signing_secret: signingSecret } = parsed as Record<string, unknown>
    if (typeof botToken !== 'string' || typeof signingSecret !== 'string') return null
    return slackSecretProblem({ botToken, signingSecret }) ? null : { botToken, signingSecret }
  } catch {
    return null
  }
}
