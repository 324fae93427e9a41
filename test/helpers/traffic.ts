/** What the traffic tests read back: the live weights, the change batches, a run started in the background. */
import {readdirSync} from 'node:fs'
import {expect} from 'vitest'
import {startCli, waitFor} from './cli.js'
import type {TestSandbox} from './sandbox.js'

/** The weights of the public record as `dns status` reads them from Route 53. */
export async function liveWeights(sb: TestSandbox): Promise<Record<string, number>> {
  const r = await sb.cli(['dns', 'status', '--env', 'sandbox', '--json'])
  expect(r.code, r.stderr).toBe(0)
  const s = JSON.parse(r.stdout) as {records: {role: string | null; weight: number}[]}
  return Object.fromEntries(s.records.filter((x) => x.role).map((x) => [x.role, x.weight]))
}

/** Change batches accepted since `since` that moved the public record (not the lock's TXT record). */
export async function shiftBatches(sb: TestSandbox, since: string) {
  return (await sb.requests(since)).filter((e) => e.operation === 'ChangeResourceRecordSets' && e.status === 200 && e.changes?.some((c) => c.includes(' clpr.tv. A ')))
}

/** What each of those batches set: its CREATEs of the public record (the lock's renewal left out). */
export async function shiftCreates(sb: TestSandbox, since: string): Promise<string[][]> {
  return (await shiftBatches(sb, since)).map((b) => b.changes!.filter((c) => c.startsWith('CREATE clpr.tv.')))
}

function runIds(stateDir: string): string[] {
  try {
    return readdirSync(`${stateDir}/runs`)
  } catch {
    return []
  }
}

/** Start a CLI command that makes a run, in the background; resolves once its run directory exists. */
export async function startRunInBackground(sb: TestSandbox, args: string[], env: NodeJS.ProcessEnv = {}) {
  const before = new Set(runIds(sb.stateDir))
  const run = startCli([...args, '--state-dir', sb.stateDir], {cwd: sb.cwd, env, timeoutMs: 120_000})
  const runId = await waitFor(() => runIds(sb.stateDir).find((id) => !before.has(id)), 30_000, 'the run directory')
  return {...run, runId}
}
