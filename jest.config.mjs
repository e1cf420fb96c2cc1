// Tests are written in TypeScript under test/ and run compiled (ESM) from dist/test/.
export default {
  rootDir: 'dist',
  testMatch: ['<rootDir>/test/**/*.test.js'],
  testEnvironment: 'node',
  globalSetup: '<rootDir>/test/setup/global-setup.js',
  globalTeardown: '<rootDir>/test/setup/global-teardown.js',
  testTimeout: 180000,
  maxWorkers: 2,
  transform: {},
};
