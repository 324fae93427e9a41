#!/usr/bin/env node
// Development entry point: same as run.js; kept because oclif tooling looks for it.
await import('./run.js')
