/**
 * provision against the sandbox's second environment (sandbox-next: nothing of it exists until
 * it is provisioned), with the real terraform and helm: the dry run reviews the plans and creates
 * nothing; a held state lock is reported and left alone; the saved plan is applied as reviewed,
 * Terraform then Helm, and verified; the same plan is refused once it has been applied; a new dry
 * run finds nothing to change (no perpetual diff).
 */
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {isStalePlan, parseLockError} from '../../src/lib/terraform/cli.js'
import {ROOT} from '../helpers/cli.js'
import {useSandbox} from '../helpers/sandbox.js'

const sandbox = useSandbox()
const ENV = ['--env', 'sandbox-next']
const LOCK_ID = 'clipper-sandbox-tfstate/clipper/sandbox-next.tfstate'

interface SavedPlan {
  steps: {id: string; summary: string; changes: {action: string; target: string}[]; artifacts?: Record<string, {file: string; sha256: string}>}[]
  artifactsDir: string
}

const planFile = () => join(sandbox().cwd, 'provision-plan.json')

/** Mutating AWS requests since `since`, but for the run's own environment lock (a TXT record in Route 53). */
async function changesSince(since: string): Promise<string[]> {
  const reqs = await sandbox().requests(since, true)
  return reqs.filter((r) => r.service !== 'route53').map((r) => `${r.service} ${r.operation}`)
}

/** The real terraform, as an operator would run it against the sandbox-next state. */
function terraform(args: string[]): {code: number; output: string} {
  const sb = sandbox()
  const env = {...sb.toolEnv(), TF_DATA_DIR: join(sb.stateDir, 'terraform', 'sandbox-next'), TF_IN_AUTOMATION: '1'}
  try {
    return {code: 0, output: execFileSync('terraform', [`-chdir=${join(ROOT, 'examples/terraform')}`, ...args], {env, encoding: 'utf8', stdio: 'pipe'})}
  } catch (error) {
    const e = error as {status: number; stdout: string; stderr: string}
    return {code: e.status, output: `${e.stdout}\n${e.stderr}`}
  }
}

async function lockTable() {
  const m = await import('@aws-sdk/client-dynamodb')
  const c = new m.DynamoDBClient({region: 'us-east-1', endpoint: sandbox().status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}})
  return {m, c}
}

describe('provision', () => {
  test('the dry run reviews the Terraform plan and the Helm diff, saves both, and creates nothing', {timeout: 180_000}, async () => {
    const sb = sandbox()
    const since = new Date().toISOString()
    const r = await sb.cli(['provision', ...ENV, '--dry-run', '--output', 'markdown', '--save-plan', planFile()], {timeoutMs: 150_000})
    expect(r.code, r.stderr).toBe(0)
    // The review a change needs: what terraform would create, and the release's resources.
    expect(r.stdout).toMatch(/\d+ to add, 0 to change, 0 to replace, 0 to destroy/)
    for (const address of ['aws_eks_cluster.this', 'aws_eks_node_group.default', 'aws_db_instance.this', 'aws_nat_gateway.this["c"]', 'aws_backup_plan.this'])
      expect(r.stdout).toContain(address)
    expect(r.stdout).toContain('Deployment/clipper-next/clipper-worker')
    expect(await changesSince(since)).toEqual([])

    // The saved plan holds the terraform plan file and the rendered manifest, by checksum.
    const saved = JSON.parse(readFileSync(planFile(), 'utf8')) as SavedPlan
    const plan = saved.steps.find((s) => s.id === 'plan')!
    expect(plan.changes.filter((c) => c.action === 'create').length).toBeGreaterThan(40)
    const release = saved.steps.find((s) => s.id === 'release[clipper-worker].upgrade')!
    expect(release.changes).toContainEqual({action: 'create', target: 'Deployment/clipper-next/clipper-worker'})
    for (const step of [plan, release]) {
      for (const a of Object.values(step.artifacts ?? {})) expect(existsSync(join(sb.cwd, saved.artifactsDir, a.file)), a.file).toBe(true)
    }
    expect(Object.keys(plan.artifacts ?? {})).toEqual(['planFile'])
  })

  test('a held state lock is reported with its holder and the force-unlock command, and never broken', {timeout: 120_000}, async () => {
    const sb = sandbox()
    const {m, c} = await lockTable()
    // As terraform writes it: the holder as JSON in the Info attribute.
    const info = {
      ID: '4f1c9a2e-7b1d-4c55-9e2f-0a1b2c3d4e5f',
      Operation: 'OperationTypeApply',
      Who: 'alex@build-7',
      Version: '1.11.4',
      Created: '2026-12-01T03:04:05.123456Z',
      Path: LOCK_ID,
      Info: '',
    }
    await c.send(new m.PutItemCommand({TableName: 'clipper-sandbox-tflock', Item: {LockID: {S: LOCK_ID}, Info: {S: JSON.stringify(info)}}}))

    // Terraform's own words for it, read by the parser the terraform steps use.
    const tf = terraform(['plan', '-input=false', '-no-color', '-lock-timeout=0s', `-var-file=${join(sb.stateDir, 'sandbox', 'terraform', 'sandbox-next.tfvars')}`])
    expect(tf.code).toBe(1)
    expect(parseLockError(tf.output)).toMatchObject({
      id: info.ID,
      who: 'alex@build-7',
      operation: 'OperationTypeApply',
      path: LOCK_ID,
      created: expect.stringMatching(/^2026-12-01 03:04:05/),
    })

    const since = new Date().toISOString()
    const r = await sb.cli(['provision', ...ENV, '--yes'], {timeoutMs: 100_000})
    expect(r.code).toBe(1)
    expect(r.stdout + r.stderr).toContain('locked by alex@build-7 since 2026-12-01T03:04:05.123456Z')
    expect(r.stdout + r.stderr).toMatch(new RegExp(`terraform -chdir=\\S+/examples/terraform force-unlock ${info.ID}`))
    expect(await changesSince(since)).toEqual([])
    // Still held: the tool never breaks it.
    const item = (await c.send(new m.GetItemCommand({TableName: 'clipper-sandbox-tflock', Key: {LockID: {S: LOCK_ID}}}))).Item
    expect(item?.Info?.S).toContain('alex@build-7')
    await c.send(new m.DeleteItemCommand({TableName: 'clipper-sandbox-tflock', Key: {LockID: {S: LOCK_ID}}}))
  })

  test('--plan applies exactly the reviewed plan, installs the release, and the post validation passes', {timeout: 420_000}, async () => {
    const sb = sandbox()
    const since = new Date().toISOString()
    const r = await sb.cli(['provision', ...ENV, '--plan', planFile(), '--yes'], {timeoutMs: 400_000})
    // The run's progress goes to stderr, as oclif and listr2 put it; stdout is for results.
    const out = r.stdout + r.stderr
    expect(r.code, out.slice(-3000)).toBe(0)
    expect(out).toContain('using the reviewed plan')
    expect(out).toMatch(/terraform apply \(the reviewed plan\) — applied: \d+ to add, 0 to change, 0 to replace, 0 to destroy/)
    expect(out).toMatch(/release clipper-worker revision 1 deployed/)
    expect(out).toMatch(/Verify after the deployment — \d+ passed, \d warning\(s\), 0 failed/)
    const made = await changesSince(since)
    for (const op of ['eks CreateCluster', 'eks CreateNodegroup', 'rds CreateDBInstance', 'ec2 CreateNatGateway', 'backup CreateBackupPlan']) expect(made).toContain(op)

    const post = await sb.cli(['verify', ...ENV, '--phase', 'post', '--json'])
    expect(post.code, post.stdout).toBe(0)
    const checks = JSON.parse(post.stdout).checks as {id: string; status: string; detail: string}[]
    expect(checks.filter((c) => c.status === 'fail')).toEqual([])
    expect(checks.find((c) => c.id === 'eks')?.detail).toMatch(/clipper-sandbox-next ACTIVE on 1\.29; node groups clipper-sandbox-next-default/)
    expect(checks.find((c) => c.id === 'kube-workloads')).toMatchObject({status: 'pass'})
  })

  test('the same plan is refused once applied (exit 2, naming what moved), and terraform refuses its plan file too', {timeout: 180_000}, async () => {
    const sb = sandbox()
    const since = new Date().toISOString()
    const r = await sb.cli(['provision', ...ENV, '--plan', planFile(), '--yes'], {timeoutMs: 150_000})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/is stale: the live state has changed since the plan was made, as these steps read it: plan \(planned: \d+ to add.*; now: no changes/)
    expect(r.stderr).toContain('release[clipper-worker].upgrade (planned: install clipper-worker')
    expect(await changesSince(since)).toEqual([])

    const saved = JSON.parse(readFileSync(planFile(), 'utf8')) as SavedPlan
    const tfplan = join(sb.cwd, saved.artifactsDir, saved.steps.find((s) => s.id === 'plan')!.artifacts!.planFile!.file)
    const tf = terraform(['apply', '-input=false', '-no-color', tfplan])
    expect(tf.code).toBe(1)
    expect(isStalePlan(tf.output)).toBe(true)
  })

  test('a new dry run finds nothing to change: no perpetual diff in Terraform or Helm', {timeout: 180_000}, async () => {
    const r = await sandbox().cli(['provision', ...ENV, '--dry-run', '--output', 'json'], {timeoutMs: 150_000})
    expect(r.code, r.stderr).toBe(0)
    const plan = JSON.parse(r.stdout) as SavedPlan
    expect(plan.steps.find((s) => s.id === 'plan')?.summary).toMatch(/^no changes/)
    expect(plan.steps.find((s) => s.id === 'release[clipper-worker].upgrade')?.summary).toMatch(/^already in place/)
  })
})
