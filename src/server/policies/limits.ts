/**
 * The bounds of a policy document, written once: the parser, the admin service, the CLI and
 * the dashboard editor all quote these, so a document accepted by one is accepted by all.
 */

/** Largest policy document (UTF-8 bytes). Real policies are a few kilobytes. */
export const MAX_POLICY_BYTES = 64 * 1024
/** Most rules in one document. */
export const MAX_POLICY_RULES = 200
/** Most groups in one document. */
export const MAX_POLICY_GROUPS = 100
/** Most members listed in one group or one rule. */
export const MAX_LISTED_MEMBERS = 500
/** Largest `required` count of one requirement. */
export const MAX_REQUIRED_APPROVALS = 50
/** Most globs or values in one match condition. */
export const MAX_MATCH_VALUES = 50
/** Most windows of one rule. */
export const MAX_WINDOWS = 20
/** Longest rule, group or requirement name (characters). */
export const MAX_POLICY_NAME_CHARS = 100
/** Longest glob, context value or email (characters). */
export const MAX_POLICY_VALUE_CHARS = 320
/** YAML aliases a document may expand (bounds "billion laughs" documents). */
export const MAX_YAML_ALIASES = 50

/** A group or requirement name: a letter or digit, then letters, digits, `.`, `_` or `-`. */
export const POLICY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
/** What a member must look like: one `@` with something on each side, no spaces. */
export const MEMBER_EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@]{1,255}$/
