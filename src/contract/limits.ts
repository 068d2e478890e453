/**
 * Every limit and default of the wire contract, written once. The client core, the server's
 * schemas, the dashboard, the CLI and the action all import these, so they cannot drift apart.
 */

/** JamJet Cloud's API: the URL used when none is configured. */
export const DEFAULT_API_URL = 'https://api.jamjet.dev'
/** How long a request waits for a decision unless told otherwise (one hour). */
export const DEFAULT_TIMEOUT_MS = 3_600_000
/** The same default as the action and CLI write it. */
export const DEFAULT_TIMEOUT_TEXT = '1h'
/** Spacing of status checks against a server that ignores `wait` (JamJet's own default). */
export const DEFAULT_POLL_INTERVAL_MS = 5_000

/** Longest action name (characters). */
export const MAX_ACTION_CHARS = 200
/** Longest agent name (characters). */
export const MAX_AGENT_CHARS = 200
/** Longest decision or cancel reason (characters). */
export const MAX_REASON_CHARS = 2_000
/** Longest `Idempotency-Key` header. */
export const MAX_IDEMPOTENCY_KEY_CHARS = 200
/**
 * How long an `Idempotency-Key` stays bound to its request (24 h): a repeat within it answers
 * the original record, or `422` when the request differs; after it the key starts a new approval.
 */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1_000
/** Longest id accepted in a path (ours are ~26 characters). */
export const MAX_ID_CHARS = 200

/** Largest serialised `context` (bytes of its JSON). Larger answers `413`. */
export const MAX_CONTEXT_BYTES = 64 * 1024
/**
 * Deepest nesting of objects and arrays in `context` (the context object itself is level 1).
 * Deeper JSON overflows the stack when serialised (~5,000 levels) and, below that, renders as
 * megabytes of indentation on the dashboard; real contexts are a few levels deep.
 */
export const MAX_CONTEXT_DEPTH = 32
/** Largest request body the server reads at all. */
export const MAX_BODY_BYTES = 256 * 1024

/** The server's range for `timeout_ms`; the core clamps what it sends into it. */
export const MIN_TIMEOUT_MS = 1_000
export const MAX_TIMEOUT_MS = 30 * 24 * 60 * 60 * 1_000
/** Longest long-poll (`?wait=`), in seconds. */
export const MAX_WAIT_SECONDS = 60
/** The long-poll the core asks for, in seconds. */
export const LONG_POLL_SECONDS = 30
