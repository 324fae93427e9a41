import {configDefaults, defineConfig} from 'vitest/config'

// Two projects. `unit`: fast, in process, no moto_server and no build needed (npm run test:unit).
// `e2e`: the built CLI spawned as a user runs it, and everything that talks to moto_server,
// terraform or a sandbox. `npm test` builds, lints and runs both.
const UNIT = [
  'test/engine/**/*.test.ts',
  'test/steps/{gate-gates,gate-http,gate-kubernetes,gate-prometheus,helm}.test.ts',
  'test/unit/**/*.test.ts',
  'test/cli/{readme,node-version}.test.ts',
  'packages/sandbox/test/kube-*.test.ts',
]

export default defineConfig({
  test: {
    // End-to-end tests spawn the built CLI and local servers; give them room, and keep the
    // number of files that run at once to the two cores this machine has (a clean clone measured
    // 743 s with 2, 793 s with 3: the third only added contention).
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      {extends: true, test: {name: 'unit', include: UNIT}},
      {extends: true, test: {name: 'e2e', include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...UNIT]}},
    ],
  },
})
