/** Unit tests mock the SDK and never touch the network; integration tests talk to moto over HTTP. */
const common = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  setupFilesAfterEnv: ['aws-sdk-client-mock-jest'],
};

module.exports = {
  // Two workers: the integration tests mostly wait on the emulator, and Jest's default on a 2-core machine is
  // one. (Three, with the unit tests' compiling beside them, starved moto on a 2-core machine.)
  maxWorkers: 2,
  // How long a worker may take to exit once the tests are done (Jest's default is 500 ms). A unit worker ends
  // with a heap of about 650 MB; instrumented, its 'exit' event came within 1 ms of Jest's end message, with
  // no timer, socket or child process open, and the process's teardown after that took longer than 500 ms on
  // a loaded 2-core machine: Jest then killed it and printed "A worker process has failed to exit gracefully".
  workerGracefulExitTimeout: 5000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      setupFiles: ['<rootDir>/test/support/unit-env.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/moto-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/moto-global-teardown.ts',
      setupFiles: ['<rootDir>/test/support/integration-env.ts'],
    },
  ],
};
