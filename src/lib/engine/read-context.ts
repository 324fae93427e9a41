/**
 * A step context for reading the world outside a run: dry runs (the planner) and read-only
 * commands that reuse step kinds and checks (verify). It never asks, journals or audits.
 */
import type {Environment} from '../config/schema.js'
import {childEnvFor} from '../config/tools.js'
import {loadKind} from '../steps/registry.js'
import type {StepContext} from '../steps/types.js'
import {Redactor} from '../util/redact.js'

export interface ReadContextOptions {
  stepId: string
  env?: {name: string; environment: Environment}
  stateDir: string
  signal: AbortSignal
  redactor?: Redactor
  childEnv?: NodeJS.ProcessEnv
  projected?: Map<string, unknown>
  artifactsDir?: string
  /** The runbook being planned (its name, for steps that report it). */
  runbook?: string
  /** Progress lines (a dry run drops them). */
  log?: (line: string) => void
}

export function readOnlyContext(o: ReadContextOptions): StepContext {
  const redactor = o.redactor ?? new Redactor()
  return {
    runId: 'dry-run',
    stepId: o.stepId,
    envName: o.env?.name,
    environment: o.env?.environment,
    dryRun: true,
    signal: o.signal,
    prompt: {
      interactive: false,
      yes: false,
      confirm: async () => {
        throw new Error('a dry run never asks')
      },
    },
    run: {runbook: o.runbook ?? '', step: () => undefined, lastOfKind: () => undefined}, // nothing has run yet
    runDir: o.stateDir,
    stateDir: o.stateDir,
    log: (line) => o.log?.(redactor.text(line)),
    note: async () => undefined,
    fence: async () => undefined, // a dry run changes nothing
    fenced: (send) => send(undefined),
    previous: {notes: {}, attempts: 0},
    remainingMs: () => undefined,
    secret: (v) => redactor.add(v),
    redact: (t) => redactor.text(t),
    childEnv: childEnvFor(o.env?.environment, o.childEnv),
    projected: o.projected ?? new Map(),
    artifactsDir: o.artifactsDir,
    kinds: {load: loadKind},
    audit: () => undefined,
  }
}
