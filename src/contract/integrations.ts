/** Where integrations reach the server: the addresses their senders are configured with. */

/** The GitHub App's webhook URL path (the App's settings, "Webhook URL" = public URL + this). */
export const GITHUB_WEBHOOK_PATH = '/integrations/github/webhook'
