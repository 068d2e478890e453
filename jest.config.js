/**
 * Jest in native ESM mode; ts-jest transpiles TypeScript (type checks run in `npm run lint`).
 *
 * Two projects, which `npm test` runs as two Jest invocations one after the other
 * (scripts/test.sh), because Jest 30 sets the number of workers for a whole run, not per project:
 * - `unit`: everything that runs in-process or starts a few short-lived processes, on two
 *   workers (this machine has two cores).
 * - `serial`: suites that start Chromium, the built server with many clients, fault proxies,
 *   or a PostgreSQL cluster with replicas — one file at a time (`--runInBand`), so they never
 *   compete with each other for the CPU. Any new `*.browser.test.ts` lands here.
 * The same pattern selects `serial` and is ignored by `unit`, so every file runs exactly once.
 */
const SERIAL = '/__tests__/(.*\\.browser\\.test\\.ts|(e2e|faults|replicas)/.*\\.test\\.ts|store/postgres-store\\.test\\.ts)$'
const IGNORED = ['/node_modules/', '/lib/', '/dist/']

const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
}

export default {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['**/__tests__/**/*.test.ts'], testPathIgnorePatterns: [...IGNORED, SERIAL] },
    {
      ...shared,
      displayName: 'serial',
      testRegex: SERIAL,
      testPathIgnorePatterns: IGNORED,
      // A longer Jest timeout per test; Playwright's default (helpers/browser.ts) stays well under it.
      setupFilesAfterEnv: ['<rootDir>/__tests__/helpers/serial-setup.ts'],
    },
  ],
  maxWorkers: 2,
  testTimeout: 30_000,
  verbose: true,
}
