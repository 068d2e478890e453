/**
 * The wire contract in one place: statuses, record and filter shapes, limits, defaults and
 * text rules. Imported by the client core, the server, the dashboard, the CLI and the action.
 */
export * from './api-errors.js'
export * from './approval.js'
export * from './limits.js'
export * from './text-rules.js'
export * from './client-errors.js'
export * from './integrations.js'
export * from './notifications.js'
