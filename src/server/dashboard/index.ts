/** The dashboard (issue: dashboard). Placeholder until the dashboard lands: registers nothing. */
import type { FastifyInstance } from 'fastify'
import type { ApprovalService, Notifier } from '../contracts.js'
import type { Store } from '../store/types.js'

export interface DashboardOptions {
  store: Store
  approvals: ApprovalService
  notifier: Notifier
  /** Absolute base URL the server is reached at, e.g. `http://127.0.0.1:8080`. */
  publicUrl: string
  /** Set the `Secure` cookie flag (the server is behind https). */
  secureCookies: boolean
}

export async function dashboardPlugin(_app: FastifyInstance, _options: DashboardOptions): Promise<void> {}
