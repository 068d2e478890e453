/** Jest in native ESM mode; ts-jest transpiles TypeScript (type checks run in `npm run lint`). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['**/__tests__/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/lib/', '/dist/'],
  // Integration tests start real servers, processes and a browser: two cores, so two workers.
  maxWorkers: 2,
  testTimeout: 30_000,
  verbose: true,
}
