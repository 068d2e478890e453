/** A node-postgres client class that records every statement its connections send, in order (for round-trip tests). */
import pg from 'pg'

export function statementRecorder(): { statements: string[]; CountingClient: typeof pg.Client } {
  const statements: string[] = []
  class CountingClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config)
      const query = this.query.bind(this) as (...args: unknown[]) => unknown
      this.query = ((...args: unknown[]) => {
        const first = args[0] as string | { text: string }
        statements.push((typeof first === 'string' ? first : first.text).replace(/\s+/g, ' ').trim())
        return query(...args)
      }) as never
    }
  }
  return { statements, CountingClient }
}
