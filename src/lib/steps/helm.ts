/**
 * `helm`: one release of `environment.helm.releases`, with the real helm (v4, or v3.13+).
 *
 *   upgrade   helm upgrade --install NAME CHART -n NS --create-namespace -f VALUES… [--version V]
 *             --wait --timeout T --rollback-on-failure -o json        (v3: --atomic)
 *   status    read the release (helm history), change nothing
 *
 * Read first: a deployed release whose server-side dry run renders exactly the deployed manifest
 * (and hooks), from the same chart version, is left alone ("already in place"). A dry run renders
 * with `--dry-run=server` (helm only reads the cluster) and diffs against `helm get manifest` of
 * the deployed revision, resource by resource and field by field (../helm/manifest-diff.ts).
 *
 * A failed upgrade is rolled back by helm itself; the error then reads the release history and
 * says which revision failed, why (helm's words), and which revision runs now. After a crash, a
 * release left pending-install/pending-upgrade means helm was interrupted: that is said, with
 * the `helm rollback` to run, rather than guessed at.
 */
import {createHash} from 'node:crypto'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {z} from 'zod'
import type {Environment} from '../config/schema.js'
import {RunFailedError, UsageError} from '../errors.js'
import {commandLine, findProcessesWithEnv, runTool, STEP_TOKEN_ENV, waitForExit, type ToolResult} from '../exec/run-tool.js'
import {diffManifests, formatField, formatValue, isEmptyDiff, refTarget, type FieldChange, type ManifestDiff, type Ref} from '../helm/manifest-diff.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {defineStep, type Change, type StepContext, type StepPlan} from './types.js'

const inputs = z.strictObject({
  /** A release name from environment.helm.releases. */
  release: z.string({error: 'expected a release name from helm.releases in clipper-ops.yaml'}).min(1, {error: 'expected a release name from helm.releases in clipper-ops.yaml'}),
  action: z.enum(['upgrade', 'status'], {error: 'expected an action: upgrade or status'}).default('upgrade'),
})
type Inputs = z.output<typeof inputs>

export interface Release {
  name: string
  chart: string
  namespace: string
  version?: string
  values: string[]
  /** helm's --timeout, as helm reads it (Go duration). */
  timeout: string
  timeoutMs: number
}

/** One entry of `helm history -o json`. */
export interface HistoryEntry {
  revision: number
  updated?: string
  status: string
  /** name-version, e.g. demo-0.1.0 */
  chart: string
  app_version?: string
  description?: string
}

interface Rendered {
  manifest: string
  hooks: string
  /** name-version */
  chart: string
  appVersion?: string
}

interface Deployed {
  entry: HistoryEntry
  manifest: string
  hooks: string
}

const PENDING = new Set(['pending-install', 'pending-upgrade', 'pending-rollback', 'uninstalling'])

export function releaseConfig(env: Environment | undefined, name: string): Release {
  const releases = env?.helm?.releases ?? []
  const r = releases.find((x) => x.name === name)
  if (!r) {
    const known = releases.map((x) => x.name)
    throw new UsageError(
      `helm release "${name}" is not in this environment's helm.releases (${known.length ? `known: ${known.join(', ')}` : 'it lists none'}). Add it to clipper-ops.yaml or use one of those.`,
      {code: 'HELM_UNKNOWN_RELEASE'},
    )
  }
  const timeoutMs = parseDuration(r.timeout) ?? 600_000
  return {
    name: r.name,
    chart: r.chart,
    namespace: r.namespace ?? env?.kubernetes?.namespace ?? 'default',
    version: r.version,
    values: r.values,
    timeout: formatDuration(timeoutMs),
    timeoutMs,
  }
}

// --- driving helm ----------------------------------------------------------------------------

/** --kubeconfig and --kube-context from the environment (else helm's own: KUBECONFIG, ~/.kube/config). */
function kubeArgs(env: Environment | undefined): string[] {
  const k = env?.kubernetes
  return [...(k?.kubeconfig ? ['--kubeconfig', k.kubeconfig] : []), ...(k?.context ? ['--kube-context', k.context] : [])]
}

const NO_HELM =
  'helm is not on PATH. Install helm v4 (or v3.13 or newer): https://helm.sh/docs/intro/install/ (e.g. "curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-4 | bash"), or add its directory to tools.path in clipper-ops.yaml. The sandbox puts its own helm there for its environment.'

async function helm(ctx: StepContext, args: string[], o: {timeoutMs?: number; stream?: boolean; token?: boolean} = {}): Promise<ToolResult> {
  const r = await runTool({
    command: 'helm',
    args,
    // The token marks the child, so that a resumed run finds a helm the dead run left running.
    env: o.token ? {...ctx.childEnv, [STEP_TOKEN_ENV]: `${ctx.runId}:${ctx.stepId}`} : ctx.childEnv,
    signal: ctx.signal,
    timeoutMs: o.timeoutMs ?? 120_000,
    // With -o json, stdout is the release document (manifests, maybe Secrets): only stderr is progress.
    onLine: o.stream ? (line, stream) => stream === 'stderr' && line.trim() && ctx.log(line) : undefined,
    redactor: {text: ctx.redact} as never,
  })
  if (r.spawnError) throw new RunFailedError(`${NO_HELM} (${r.spawnError})`, {code: 'HELM_NOT_FOUND'})
  if (r.cancelled && ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled')
  return r
}

function helmError(r: ToolResult): string {
  const text = (r.stderr || r.stdout).trim()
  const errors = text.split('\n').filter((l) => l.startsWith('Error:'))
  return (errors.length ? errors.join(' ') : text.split('\n').slice(-3).join(' ')).replace(/^Error:\s*/, '') || `exit code ${r.exitCode}`
}

function failed(what: string, r: ToolResult): RunFailedError {
  return new RunFailedError(`${what}: ${r.commandLine} exited ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}: ${helmError(r)}`, {code: 'HELM_FAILED'})
}

const majorVersions = new Map<string, Promise<number>>()

/** helm's major version (3 or 4), from `helm version --short`; once per PATH. */
export async function helmMajor(ctx: StepContext): Promise<number> {
  const key = ctx.childEnv.PATH ?? ''
  let p = majorVersions.get(key)
  if (!p) {
    p = helm(ctx, ['version', '--short'], {timeoutMs: 30_000}).then((r) => {
      if (r.exitCode !== 0) throw failed('helm version', r)
      const m = /v(\d+)\.(\d+)/.exec(r.stdout)
      if (!m) throw new RunFailedError(`helm version --short printed "${r.stdout.trim()}", which names no version`, {code: 'HELM_FAILED'})
      if (Number(m[1]) < 3 || (Number(m[1]) === 3 && Number(m[2]) < 13)) {
        throw new RunFailedError(`helm ${r.stdout.trim()} is too old: --dry-run=server needs helm v3.13 or newer (v4 preferred). ${NO_HELM.replace('helm is not on PATH. ', '')}`, {
          code: 'HELM_NOT_FOUND',
        })
      }
      return Number(m[1])
    })
    p.catch(() => majorVersions.delete(key))
    majorVersions.set(key, p)
  }
  return p
}

/** The upgrade command's arguments up to the mode flags, the same for the dry run and the real one. */
function upgradeArgs(ctx: StepContext, rel: Release): string[] {
  return [
    'upgrade',
    '--install',
    rel.name,
    rel.chart,
    '-n',
    rel.namespace,
    '--create-namespace',
    ...rel.values.flatMap((v) => ['-f', v]),
    ...(rel.version ? ['--version', rel.version] : []),
    ...kubeArgs(ctx.environment),
  ]
}

/** helm prints its JSON document on stdout; v3 may print a line ("Release … does not exist") before it. */
function parseJson(r: ToolResult): any {
  const start = r.stdout.indexOf('{')
  const alt = r.stdout.indexOf('[')
  const from = start < 0 ? alt : alt < 0 ? start : Math.min(start, alt)
  try {
    return JSON.parse(r.stdout.slice(Math.max(0, from)))
  } catch {
    throw new RunFailedError(`${r.commandLine} printed no JSON: ${r.stdout.slice(0, 200)}`, {code: 'HELM_FAILED'})
  }
}

/** The release's history, oldest first; empty when it is not installed. */
async function history(ctx: StepContext, rel: Release): Promise<HistoryEntry[]> {
  const r = await helm(ctx, ['history', rel.name, '-n', rel.namespace, '--max', '20', '-o', 'json', ...kubeArgs(ctx.environment)])
  if (r.exitCode !== 0) {
    if (/release: not found/.test(r.stderr)) return []
    throw failed(`reading the history of helm release ${rel.name}`, r)
  }
  return (parseJson(r) as HistoryEntry[]).sort((a, b) => a.revision - b.revision)
}

async function getText(ctx: StepContext, rel: Release, what: 'manifest' | 'hooks', revision: number): Promise<string> {
  const r = await helm(ctx, ['get', what, rel.name, '-n', rel.namespace, '--revision', String(revision), ...kubeArgs(ctx.environment)])
  if (r.exitCode !== 0) throw failed(`reading the ${what} of helm release ${rel.name} revision ${revision}`, r)
  return r.stdout
}

async function deployedRevision(ctx: StepContext, rel: Release, entry: HistoryEntry | undefined): Promise<Deployed | undefined> {
  if (!entry) return undefined
  const [manifest, hooks] = await Promise.all([getText(ctx, rel, 'manifest', entry.revision), getText(ctx, rel, 'hooks', entry.revision)])
  return {entry, manifest, hooks}
}

/** Render the release as an upgrade would, with the cluster's help but without changing it (`--dry-run=server`). */
async function render(ctx: StepContext, rel: Release): Promise<Rendered> {
  const r = await helm(ctx, [...upgradeArgs(ctx, rel), '--dry-run=server', '-o', 'json'], {timeoutMs: 300_000})
  if (r.exitCode !== 0) throw failed(`rendering helm release ${rel.name} (dry run)`, r)
  const doc = parseJson(r)
  const hooks = ((doc.hooks ?? []) as Array<{manifest?: string}>).map((h) => h.manifest ?? '').join('\n---\n')
  return {manifest: String(doc.manifest ?? ''), hooks, chart: chartOf(doc), appVersion: doc.chart?.metadata?.appVersion}
}

/** The manifest helm would apply for the release now (a server-side dry run), for a caller to save. */
export async function renderedManifest(ctx: StepContext, i: {release: string}): Promise<string> {
  const rel = releaseConfig(ctx.environment, i.release)
  await helmMajor(ctx)
  return (await render(ctx, rel)).manifest
}

function chartOf(doc: any): string {
  const m = doc?.chart?.metadata
  return m?.name && m?.version ? `${m.name}-${m.version}` : ''
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

// --- comparing --------------------------------------------------------------------------------

interface Comparison {
  diff: ManifestDiff
  hooks: ManifestDiff
  chartBefore?: string
  chartAfter: string
  inPlace: boolean
}

/**
 * The rendered release against the deployed revision. In place only when that revision is also
 * the newest (a newer failed one may have left its changes half applied), its chart version is
 * the one rendered, and neither the manifest nor the hooks differ.
 */
function compare(rel: Release, current: HistoryEntry | undefined, deployed: Deployed | undefined, rendered: Rendered): Comparison {
  const ns = {namespace: rel.namespace}
  const diff = maskSecrets(diffManifests(deployed?.manifest ?? '', rendered.manifest, ns))
  const hooks = maskSecrets(diffManifests(deployed?.hooks ?? '', rendered.hooks, ns))
  const chartBefore = deployed?.entry.chart
  const newest = deployed !== undefined && current?.revision === deployed.entry.revision && current.status === 'deployed'
  const inPlace = newest && chartBefore === rendered.chart && isEmptyDiff(diff) && isEmptyDiff(hooks)
  return {diff, hooks, chartBefore, chartAfter: rendered.chart, inPlace}
}

function counts(d: ManifestDiff, detail = true): string {
  const shown = d.changed.slice(0, 3).map((c) => `${c.ref.kind}/${c.ref.name}: ${c.fields.slice(0, 3).map(formatField).join(', ')}${c.fields.length > 3 ? ', …' : ''}`)
  const more = d.changed.length > 3 ? '; …' : ''
  const changed = detail && shown.length ? ` (${shown.join('; ')}${more})` : ''
  return `${d.added.length} to add, ${d.changed.length} to change${changed}, ${d.removed.length} to remove`
}

/** Secrets' values never reach plans, logs or reviews: their fields show as changed, not what to. */
function masked(ref: Ref, f: FieldChange): FieldChange {
  if (ref.kind !== 'Secret' || !/^(data|stringData)\b/.test(f.path)) return f
  const hide = (v: unknown) => (v === undefined || v === null ? v : '(hidden)')
  return {path: f.path, before: hide(f.before), after: hide(f.after)}
}

function maskSecrets(d: ManifestDiff): ManifestDiff {
  return {...d, changed: d.changed.map((c) => ({ref: c.ref, fields: c.fields.map((f) => masked(c.ref, f))}))}
}

function diffChanges(d: ManifestDiff, prefix = ''): Change[] {
  return [
    ...d.added.map((ref): Change => ({action: 'create', target: prefix + refTarget(ref)})),
    ...d.changed.map((c): Change => {
      const fields = c.fields
      return {
        action: 'update',
        target: prefix + refTarget(c.ref),
        before: Object.fromEntries(fields.map((f) => [f.path, f.before ?? null])),
        after: Object.fromEntries(fields.map((f) => [f.path, f.after ?? null])),
        detail: fields.map(formatField).join('; '),
      }
    }),
    ...d.removed.map((ref): Change => ({action: 'delete', target: prefix + refTarget(ref)})),
  ]
}

function planChanges(rel: Release, cmp: Comparison): Change[] {
  const changes = [...diffChanges(cmp.diff), ...diffChanges(cmp.hooks, 'hook ')]
  if (cmp.chartBefore !== undefined && cmp.chartBefore !== cmp.chartAfter) {
    changes.unshift({
      action: 'update',
      target: `helm release ${rel.namespace}/${rel.name}`,
      before: cmp.chartBefore,
      after: cmp.chartAfter,
      detail: `chart ${cmp.chartBefore} → ${cmp.chartAfter}`,
    })
  }
  return changes
}

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ')

/** Markdown for a change review: what the release becomes, a table of resources, then each changed resource's fields. */
function reviewMarkdown(rel: Release, cmp: Comparison, deployed: Deployed | undefined): string {
  const lines = [`### Helm release \`${rel.name}\` in \`${rel.namespace}\``, '']
  if (deployed) {
    const chart = cmp.chartBefore === cmp.chartAfter ? `chart ${cmp.chartAfter}` : `chart ${cmp.chartBefore} → ${cmp.chartAfter}`
    lines.push(`Upgrade from revision ${deployed.entry.revision} (${deployed.entry.status}), ${chart}. Deployed manifest sha256 \`${sha256(deployed.manifest).slice(0, 12)}\`.`)
  } else lines.push(`Install of chart ${cmp.chartAfter} (the release does not exist yet).`)
  lines.push('', `${counts(cmp.diff, false)}.`, '')
  const rows = [
    ...cmp.diff.added.map((r) => ['create', refTarget(r), '']),
    ...cmp.diff.changed.map((c) => ['update', refTarget(c.ref), c.fields.map((f) => `\`${f.path}\``).join(', ')]),
    ...cmp.diff.removed.map((r) => ['**delete**', refTarget(r), '']),
    ...cmp.hooks.added.map((r) => ['create (hook)', refTarget(r), '']),
    ...cmp.hooks.changed.map((c) => ['update (hook)', refTarget(c.ref), c.fields.map((f) => `\`${f.path}\``).join(', ')]),
    ...cmp.hooks.removed.map((r) => ['delete (hook)', refTarget(r), '']),
  ]
  if (rows.length === 0) lines.push('Nothing to change.')
  else lines.push('| Action | Resource | Changed fields |', '|---|---|---|', ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`))
  for (const c of [...cmp.diff.changed, ...cmp.hooks.changed]) {
    lines.push('', `#### ${refTarget(c.ref)}`, '', '| Field | Before | After |', '|---|---|---|')
    for (const f of c.fields) lines.push(`| \`${cell(f.path)}\` | ${cell(formatValue(f.before, 120))} | ${cell(formatValue(f.after, 120))} |`)
  }
  return lines.join('\n')
}

// --- reading the release ------------------------------------------------------------------------

interface ReleaseState {
  history: HistoryEntry[]
  /** The newest revision, whatever its status. */
  current?: HistoryEntry
  /** The newest revision with status deployed (what runs). */
  deployed?: HistoryEntry
}

async function readState(ctx: StepContext, rel: Release): Promise<ReleaseState> {
  const h = await history(ctx, rel)
  return {history: h, current: h.at(-1), deployed: h.filter((e) => e.status === 'deployed').at(-1)}
}

function rollbackAdvice(rel: Release, state: ReleaseState): string {
  const to = state.deployed ?? state.history.filter((e) => e.status === 'superseded').at(-1)
  const cmd = to ? `helm rollback ${rel.name} ${to.revision} -n ${rel.namespace} --wait` : `helm uninstall ${rel.name} -n ${rel.namespace}`
  return `${cmd} (${to ? `back to revision ${to.revision}, chart ${to.chart}` : 'no earlier revision to go back to'})`
}

function pendingMessage(rel: Release, state: ReleaseState): string {
  const c = state.current!
  return `helm release ${rel.name} in ${rel.namespace} is ${c.status} at revision ${c.revision} (chart ${c.chart}): a helm operation was interrupted and nothing will finish it. Look at "helm history ${rel.name} -n ${rel.namespace}", then run ${rollbackAdvice(rel, state)}, and run this step again.`
}

function outputsOf(rel: Release, e: HistoryEntry | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    release: rel.name,
    namespace: rel.namespace,
    revision: e?.revision ?? 0,
    status: e?.status ?? 'not-installed',
    chart: e?.chart ?? null,
    appVersion: e?.app_version ?? null,
    ...extra,
  }
}

/** After a failed upgrade: which revision failed and why, and what helm rolled back to (what runs now). */
async function explainFailure(ctx: StepContext, rel: Release, before: ReleaseState, r: ToolResult): Promise<RunFailedError> {
  const fromRevision = before.current?.revision ?? 0
  let after: ReleaseState
  try {
    after = await readState(ctx, rel)
  } catch (error) {
    return new RunFailedError(`helm upgrade of ${rel.name} failed (${helmError(r)}), and its history could not be read: ${(error as Error).message}`, {code: 'HELM_FAILED'})
  }
  const failedRev = after.history.filter((e) => e.revision > fromRevision && e.status === 'failed').at(-1)
  const reason = (failedRev?.description?.trim() || helmError(r)).replace(/\s*\n\s*/g, '; ')
  const now = after.current
  const details = {release: rel.name, namespace: rel.namespace, failedRevision: failedRev?.revision, current: now, helmError: helmError(r), timedOut: r.timedOut}
  const head = `helm upgrade of release ${rel.name} in ${rel.namespace} failed`
  const history = `helm history ${rel.name} -n ${rel.namespace}`
  if (after.history.length === 0 && fromRevision === 0) {
    return new RunFailedError(`${head}: installing it failed (${reason}); helm uninstalled it again, so nothing of it runs now.`, {
      code: 'HELM_FAILED',
      details,
      suggestions: ['Fix the cause above (an image that never becomes ready, a bad value) and run again.'],
    })
  }
  if (failedRev && now && now.revision > failedRev.revision && now.status === 'deployed') {
    const to = /rollback to (\d+)/i.exec(now.description ?? '')?.[1]
    const target = to ? Number(to) : now.revision
    const recorded = target === now.revision ? '' : `, recorded as revision ${now.revision}`
    return new RunFailedError(
      `${head}: revision ${failedRev.revision} failed (${reason}); helm rolled back to revision ${target} (chart ${now.chart}${recorded}), which is what runs now.`,
      {code: 'HELM_FAILED', details: {...details, rolledBackTo: target}, suggestions: [`See ${history}.`, 'Fix the cause and run again.']},
    )
  }
  if (failedRev) {
    return new RunFailedError(
      `${head}: revision ${failedRev.revision} failed (${reason}), and helm did not roll back: the newest revision is ${now?.revision} (${now?.status}). Run ${rollbackAdvice(rel, after)}.`,
      {code: 'HELM_FAILED', details, suggestions: [`See ${history}.`]},
    )
  }
  return new RunFailedError(
    `${head} before it made a revision: ${helmError(r)}${r.timedOut ? ' (timed out)' : ''}. The release is unchanged${now ? ` at revision ${now.revision} (${now.status}, chart ${now.chart})` : ' (not installed)'}.`,
    {code: 'HELM_FAILED', details},
  )
}

// --- the kind ------------------------------------------------------------------------------------

/** --plan: the release must render exactly as the reviewed plan showed it, or nothing is applied. */
async function mustRenderAsReviewed(ctx: StepContext, rel: Release, savedFile: string): Promise<void> {
  const reviewed = await readFile(savedFile, 'utf8')
  const now = (await render(ctx, rel)).manifest
  const diff = diffManifests(reviewed, now, {namespace: rel.namespace})
  if (isEmptyDiff(diff)) return
  throw new RunFailedError(
    `Release ${rel.name} no longer renders as the reviewed plan showed it (its chart or values changed since): ${counts(diff)}. Nothing was applied to it. Make and review a new plan with --dry-run.`,
    {code: 'HELM_PLAN_STALE'},
  )
}

export default defineStep({
  kind: 'helm',
  description: 'helm upgrade --install of a release from helm.releases (server dry-run diff, rollback on failure), or read its status',
  needs: ['kubernetes'],
  inputs,
  mutates: (i) => (i as Inputs).action === 'upgrade',
  title: (i) => `Helm release ${i.release}`,

  async plan(ctx, i): Promise<StepPlan> {
    const rel = releaseConfig(ctx.environment, i.release)
    await helmMajor(ctx)
    const state = await readState(ctx, rel)
    if (i.action === 'status') {
      const c = state.current
      return {
        summary: c ? `read: release ${rel.name} revision ${c.revision} is ${c.status} (chart ${c.chart})` : `read: release ${rel.name} is not installed in ${rel.namespace}`,
        changes: [{action: 'check', target: `helm release ${rel.namespace}/${rel.name}`}],
        observed: {revision: c?.revision ?? 0, status: c?.status ?? 'not-installed'},
        outputs: outputsOf(rel, c),
      }
    }
    if (state.current && PENDING.has(state.current.status)) throw new RunFailedError(pendingMessage(rel, state), {code: 'HELM_FAILED'})
    const [deployed, rendered] = await Promise.all([deployedRevision(ctx, rel, state.deployed), render(ctx, rel)])
    const cmp = compare(rel, state.current, deployed, rendered)
    const observed = {revision: deployed?.entry.revision ?? 0, manifestSha256: deployed ? sha256(deployed.manifest) : null}
    // The rendered manifest is what the review shows: --save-plan keeps it, --plan applies only it.
    let artifacts: Record<string, string> | undefined
    if (ctx.artifactsDir) {
      await mkdir(ctx.artifactsDir, {recursive: true})
      artifacts = {manifest: join(ctx.artifactsDir, `${rel.name}.manifest.yaml`)}
      await writeFile(artifacts.manifest!, rendered.manifest, {mode: 0o600})
    }
    const outputs = {release: rel.name, namespace: rel.namespace, chart: rendered.chart, appVersion: rendered.appVersion ?? null}
    const review = reviewMarkdown(rel, cmp, deployed)
    if (cmp.inPlace) {
      return {
        summary: `already in place: release ${rel.name} revision ${deployed!.entry.revision} (${rendered.chart}) renders as deployed; 0 to add, 0 to change, 0 to remove`,
        changes: [{action: 'none', target: `helm release ${rel.namespace}/${rel.name}`}],
        observed,
        outputs: {...outputs, revision: deployed!.entry.revision, status: 'deployed'},
        review,
        artifacts,
      }
    }
    const what = deployed
      ? `upgrade ${rel.name} from revision ${deployed.entry.revision}${cmp.chartBefore !== cmp.chartAfter ? ` (${cmp.chartBefore} → ${cmp.chartAfter})` : ` (${rendered.chart})`}`
      : `install ${rel.name} (${rendered.chart}) in ${rel.namespace}`
    const hooks = isEmptyDiff(cmp.hooks) ? '' : `; hooks: ${counts(cmp.hooks, false)}`
    return {
      summary: `${what}: ${counts(cmp.diff)}${hooks}`,
      changes: planChanges(rel, cmp),
      observed,
      outputs,
      review,
      artifacts,
      estimateMs: 30_000,
      worstCaseMs: rel.timeoutMs + 60_000,
    }
  },

  async run(ctx, i) {
    const rel = releaseConfig(ctx.environment, i.release)
    const major = await helmMajor(ctx)
    const state = await readState(ctx, rel)
    if (i.action === 'status') {
      const c = state.current
      return {
        summary: c ? `release ${rel.name} revision ${c.revision} is ${c.status} (chart ${c.chart})` : `release ${rel.name} is not installed in ${rel.namespace}`,
        outputs: outputsOf(rel, c),
      }
    }
    if (state.current && PENDING.has(state.current.status)) throw new RunFailedError(pendingMessage(rel, state), {code: 'HELM_FAILED'})

    const deployed = await deployedRevision(ctx, rel, state.deployed)
    if (ctx.saved?.manifest) await mustRenderAsReviewed(ctx, rel, ctx.saved.manifest)
    if (deployed && state.current?.revision === deployed.entry.revision) {
      const cmp = compare(rel, state.current, deployed, await render(ctx, rel))
      if (cmp.inPlace) {
        const e = deployed.entry
        return {summary: `already in place: release ${rel.name} revision ${e.revision} (${e.chart}) is deployed and renders as wanted`, outputs: outputsOf(rel, e), changes: []}
      }
    }

    const args = [...upgradeArgs(ctx, rel), '--wait', '--timeout', rel.timeout, major >= 4 ? '--rollback-on-failure' : '--atomic', '-o', 'json']
    await ctx.note({release: rel.name, namespace: rel.namespace, fromRevision: state.current?.revision ?? 0})
    ctx.log(`$ ${commandLine('helm', args)}`)
    ctx.log(`helm waits up to ${rel.timeout} for the release's resources to be ready; on failure it rolls back by itself`)
    // helm enforces --timeout for the wait (and the rollback after it); the margin covers hooks and the rollback.
    const r = await helm(ctx, args, {timeoutMs: rel.timeoutMs * 2 + 120_000, stream: true, token: true})
    if (r.exitCode !== 0) throw await explainFailure(ctx, rel, state, r)

    const doc = parseJson(r)
    const revision = Number(doc.version)
    const status = String(doc.info?.status ?? 'unknown')
    const chart = chartOf(doc)
    const appVersion = doc.chart?.metadata?.appVersion ?? null
    if (status !== 'deployed') throw new RunFailedError(`helm upgrade of ${rel.name} ended with status ${status} at revision ${revision}, not deployed`, {code: 'HELM_FAILED'})
    const diff = maskSecrets(diffManifests(deployed?.manifest ?? '', String(doc.manifest ?? ''), {namespace: rel.namespace}))
    const changes = diffChanges(diff)
    return {
      summary: `release ${rel.name} revision ${revision} ${status} (${chart}${appVersion ? `, app ${appVersion}` : ''}): ${diff.added.length} added, ${diff.changed.length} changed, ${diff.removed.length} removed`,
      outputs: {release: rel.name, namespace: rel.namespace, revision, status, chart, appVersion},
      changes,
    }
  },

  async reconcile(ctx, i) {
    const rel = releaseConfig(ctx.environment, i.release)
    if (i.action === 'status') return {done: true}
    // A helm left running by the dead run may still be waiting or rolling back: let it end first.
    for (const pid of await findProcessesWithEnv(STEP_TOKEN_ENV, `${ctx.runId}:${ctx.stepId}`)) {
      ctx.log(`helm from the interrupted attempt is still running (pid ${pid}); waiting for it to finish`)
      if (!(await waitForExit(pid, undefined, rel.timeoutMs * 2 + 120_000, ctx.signal))) return {unknown: `helm of the interrupted attempt (pid ${pid}) is still running`}
    }
    await helmMajor(ctx)
    const state = await readState(ctx, rel)
    const c = state.current
    if (!c) return {done: false}
    if (PENDING.has(c.status)) return {unknown: pendingMessage(rel, state)}
    if (c.status !== 'deployed') return {done: false}
    const cmp = compare(rel, c, await deployedRevision(ctx, rel, c), await render(ctx, rel))
    if (!cmp.inPlace) return {done: false}
    return {done: true, outputs: outputsOf(rel, c), summary: `release ${rel.name} revision ${c.revision} (${c.chart}) is deployed and renders as wanted`}
  },
})
