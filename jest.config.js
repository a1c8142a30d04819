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
  // Integration tests mostly wait on the emulator: more workers than cores finish sooner (Jest's default on a
  // 2-core machine is one worker). Timeouts are generous, so a loaded machine only makes them slower.
  maxWorkers: '150%',
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
