// Jest runs our TypeScript as native ESM (the Kubernetes client is ESM-only):
// ts-jest transpiles each file on its own (type-checking is `npm run typecheck`).
/** @type {import('ts-jest').JestConfigWithTsJest} */
const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // Test servers' state (etcd writes *.snap files) and build output are not ours to crawl.
  modulePathIgnorePatterns: ['<rootDir>/.testenv/', '<rootDir>/dist/', '<rootDir>/.bench/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
};

export default {
  // A hang guard, not a stopwatch: at load 20 on 2 cores a data-plane case that
  // takes 1 s alone took over the 5 s default (strong-share-live, embeddings-context).
  testTimeout: 30_000,
  // A failed case that leaves a server listening must not hang CI after the
  // summary (seen when a control-plane case failed before its cleanup ran):
  // exit once the run and the global teardown are done.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.test.ts'],
    },
    {
      ...shared,
      displayName: 'data-plane',
      testMatch: ['<rootDir>/test/data-plane/**/*.test.ts'],
    },
    {
      ...shared,
      // Every benchmark in quick mode, as child processes (the controller's needs the API server: control-plane).
      displayName: 'bench',
      testMatch: ['<rootDir>/test/bench/**/*.test.ts'],
    },
    {
      ...shared,
      // The dashboard in Debian's chromium (installed by the test), driven by playwright-core.
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
    },
    {
      ...shared,
      displayName: 'control-plane',
      testMatch: [
        '<rootDir>/test/crd-validation/**/*.test.ts',
        '<rootDir>/test/testenv/**/*.test.ts',
        '<rootDir>/test/controller/**/*.test.ts',
        '<rootDir>/test/install/**/*.test.ts',
        '<rootDir>/test/webhook/**/*.test.ts',
      ],
      globalSetup: '<rootDir>/test/testenv/jest-global-setup.js',
      globalTeardown: '<rootDir>/test/testenv/jest-global-teardown.js',
    },
    {
      ...shared,
      // Real containers: the image built with podman and run read-only as
      // non-root, and a single-node cluster with a real kubelet and containerd.
      displayName: 'node',
      testMatch: ['<rootDir>/test/image/**/*.test.ts', '<rootDir>/test/node/**/*.test.ts'],
    },
  ],
};
