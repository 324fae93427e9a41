/**
 * The cutover and its rollback, end to end against the sandbox, driving the built CLI: weights
 * read back from Route 53 after each run, a Kubernetes stack that fails at the 50% step sending
 * all traffic back by itself, a dry run that sends no mutating call, throttling on Route 53, and
 * one operator at a time through the Route 53 lock.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {readJournal, waitFor, waitForJournal} from '../helpers/cli.js'
import {onTerminal} from '../helpers/terminal.js'
import {liveWeights, shiftBatches, startRunInBackground} from '../helpers/traffic.js'
import {useSandbox} from '../helpers/sandbox.js'

const sandbox = useSandbox({ttl: 1, changeDelayMs: 300})

describe('rollout and rollback in the sandbox', () => {
  test('a dry run reads live state, prints the change batches and the rollback, and sends no mutating call', async () => {
    const sb = sandbox()
    const since = new Date().toISOString()
    const r = await sb.cli(['rollout', '--env', 'sandbox', '--dry-run', '--output', 'markdown', '--bake', '1s'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('`compose` (legacy) | 100 | 90 | 90% |')
    expect(r.stdout).toContain('"Action": "DELETE"')
    expect(r.stdout).toContain('### Rollback plan')
    expect(r.stdout).toMatch(/If any of `shift\[10\]\.ttl`, `shift\[10\]\.bake`.* fails:/)
    const log = await sb.requests(since)
    expect(log.some((e) => e.operation === 'ListResourceRecordSets')).toBe(true)
    expect(log.filter((e) => e.mutating)).toEqual([])
    // Without --env: the config's defaultEnvironment (the sandbox's is sandbox), as for every command.
    const rb = await sb.cli(['rollback', '--dry-run'])
    expect(rb.code, rb.stderr).toBe(0)
    expect(rb.stdout).toMatch(/Plan: rollback on sandbox/)
    expect(rb.stdout).toMatch(/Deadline 30m: the worst case fits/)
    expect((await sb.requests(since)).filter((e) => e.mutating)).toEqual([])
  })

  test('credentials: the configured profile is used once and explicitly, even with keys in the environment; none found says where it looked', async () => {
    const sb = sandbox()
    // Keys in the environment beside the sandbox's profile: the profile wins, and the SDK has no
    // "Multiple credential sources" to warn about (it did, several times per command).
    const both = await sb.cli(['dns', 'status', '--env', 'sandbox'], {env: {AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'sandbox'}})
    expect(both.code, both.stderr).toBe(0)
    expect(both.stderr).not.toContain('Multiple credential sources')
    // A secret that is also an ordinary word of the config ("sandbox": in paths, the profile) is
    // masked in what is written, never in what steps use (the kubeconfig path, the credentials file).
    const masked = await sb.cli(['rollout', '--env', 'sandbox', '--steps', '100', '--bake', '1s', '--yes'], {
      env: {AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'sandbox'},
      timeoutMs: 120_000,
    })
    expect(masked.code, masked.stderr).toBe(0)
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
    expect((await sb.cli(['rollback', '--env', 'sandbox', '--yes'], {timeoutMs: 120_000})).code).toBe(0)
    // A profile that exists nowhere: the message names it and says what to do.
    const cfg = (await import('yaml')).parse(readFileSync(sb.status.config, 'utf8'))
    cfg.environments.sandbox.aws.profile = 'nobody-has-this'
    const file = join(sb.cwd, 'no-profile.yaml')
    writeFileSync(file, (await import('yaml')).stringify(cfg))
    const none = await sb.cli(['rollout', '--env', 'sandbox', '--config', file, '--yes'])
    expect(none.code).toBe(1)
    expect(none.stderr).toContain('Credentials were looked for in profile "nobody-has-this" (aws.profile in clipper-ops.yaml)')
    expect(none.stderr).toContain('aws sso login --profile nobody-has-this')
    expect(none.stderr).toContain('Nothing was changed')
  })

  test('a full rollout reaches 100% with every gate passing; a rollback returns 100% to legacy', async () => {
    const sb = sandbox()
    const since = new Date().toISOString()
    // Reviewed first, then applied as reviewed: the plan records the steps the config gives
    // (rollout.steps) and the apply needs no --steps repeated to match it.
    const plan = await sb.cli(['rollout', '--env', 'sandbox', '--bake', '1s', '--dry-run', '--save-plan', 'rollout-plan.json', '--output', 'markdown'])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain('`steps=[10,50,100]`, `bake="1s"`, `approve=false`')
    const r = await sb.cli(['rollout', '--env', 'sandbox', '--bake', '1s', '--plan', 'rollout-plan.json', '--yes', '--json'], {timeoutMs: 120_000})
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.status).toBe('succeeded')
    expect(readFileSync(out.reports.markdown, 'utf8')).toContain('| Parameters | steps=[10,50,100], bake="1s", approve=false, fallback="legacy" |')
    const bakes = out.steps.filter((s: {id: string}) => s.id.endsWith('.bake'))
    expect(bakes).toHaveLength(3)
    for (const b of bakes) expect(b.outputs.gates.map((g: {result: string}) => g.result)).toEqual(['pass', 'pass', 'pass', 'pass'])
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
    expect(await shiftBatches(sb, since)).toHaveLength(3)
    // Who did it: the local user and the AWS caller identity, in the audit trail.
    const audit = readFileSync(`${sb.stateDir}/audit.jsonl`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
    const shifts = audit.filter((a) => a.action === 'dns.shift' && a.runId === out.id)
    expect(shifts).toHaveLength(3)
    expect(shifts[0].who.aws).toMatch(/^arn:aws:(iam|sts)::123456789012:/)

    const back = await sb.cli(['rollback', '--env', 'sandbox', '--json'], {timeoutMs: 120_000})
    expect(back.code, back.stdout + back.stderr).toBe(0)
    const rb = JSON.parse(back.stdout)
    expect(rb.status).toBe('succeeded')
    expect(rb.deadline.budgetMs).toBe(30 * 60_000)
    expect(rb.durationMs).toBeLessThan(rb.deadline.budgetMs)
    expect(rb.timeToRecoveryMs).toBe(rb.durationMs)
    // --json owns stdout; stderr carries only warnings: the sandbox has no database sync hook.
    expect(back.stderr.trim().split('\n')).toEqual([
      expect.stringContaining('⚠ Bring the legacy database up to date (database.syncHook) — SKIPPED: no database.syncHook is configured'),
    ])
    expect(rb.world).toEqual([expect.objectContaining({kind: 'dns-weights', data: {record: 'clpr.tv.', weights: {legacy: 100, kubernetes: 0}}})])
    expect(readFileSync(rb.reports.markdown, 'utf8')).toMatch(/\| Time to recovery \| \d/)
    expect(rb.steps.find((s: {id: string}) => s.id === 'verify').outputs.servedBy).toEqual({legacy: expect.any(Number)})
    expect(await liveWeights(sb)).toEqual({legacy: 100, kubernetes: 0})
  })

  test('a Kubernetes stack that fails at the 50% step: the gates stop the rollout, traffic goes back to legacy, exit 1', async () => {
    const sb = sandbox()
    const {done, runId} = await startRunInBackground(sb, ['rollout', '--env', 'sandbox', '--bake', '3s'])
    // The fault must be in place before the 50% bake's first round (it starts one TTL after the
    // shift): inject it once the 10% bake has passed, not after the 50% shift (a loaded machine
    // lost that race: the bake passed before the fault landed).
    // Through the control endpoint the CLI's `sandbox fault --stack kubernetes --error-rate 1` uses:
    // milliseconds, where spawning the CLI on a loaded machine took seconds and lost the race.
    await waitFor(() => readJournal(sb.stateDir, runId).some((e) => e.type === 'step.succeeded' && e.stepId === 'shift[10].bake'), 60_000, 'the 10% bake to pass')
    const fault = await fetch(`${sb.status.controlUrl}/stacks/kubernetes`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({errorRate: 1})})
    expect(fault.status).toBe(200)
    const r = await done
    await sb.cli(['sandbox', 'fault', '--clear'])
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain('shift[50].bake')
    expect(r.stderr).toMatch(/gate/)
    expect(r.stderr).toContain('Shift traffic back (legacy)')
    expect(r.stderr).toContain('its compensating steps ran')
    expect(await liveWeights(sb)).toEqual({legacy: 100, kubernetes: 0})
    const show = JSON.parse((await sb.cli(['runs', 'show', runId, '--json'])).stdout)
    expect(show.failure).toMatchObject({stepId: 'shift[50].bake', compensated: true})
    expect(show.steps.find((s: {id: string}) => s.id === 'shift[50].bake.on-failure.shift-back').status).toBe('succeeded')
    expect(show.steps.find((s: {id: string}) => s.id === 'shift[100].weights').status).toBe('pending')
  })

  test('"no" and Ctrl-C at an approval leave traffic where it is: exit 130, resumable, both next commands shown', {timeout: 240_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const since = new Date().toISOString()
    // On a terminal that reports no size (0×0, as `script` and some CI runners give): it must draw and ask all the same.
    const said = await onTerminal(['rollout', '--env', 'sandbox', '--approve', '--steps', '10,100', '--bake', '1s', '--state-dir', sb.stateDir], {
      cwd: sb.cwd,
      size: [0, 0],
      answers: [
        {prompt: 'Shift 10% of clpr.tv', keys: 'y\r'},
        {prompt: 'Shift 100% of clpr.tv', keys: 'n\r'},
      ],
    })
    expect(said.code, said.screen).toBe(130)
    expect(said.screen).toContain('Not approved: "Shift 100% of clpr.tv to Kubernetes on sandbox?"')
    expect(said.screen).toContain('Traffic now on clpr.tv: legacy 90%, kubernetes 10%')
    expect(said.screen).toContain('Undo: clipper-ops rollback --env sandbox')
    expect(said.screen).not.toContain('Shift traffic back')
    const runId = /Continue: clipper-ops runs resume (\S+)/.exec(said.screen)?.[1]
    expect(runId, said.screen).toBeDefined()
    expect(await liveWeights(sb)).toEqual({legacy: 90, kubernetes: 10})

    // Resumed, it asks again; Ctrl-C at the prompt is an interrupt too, not an abort.
    const interrupted = await onTerminal(['runs', 'resume', runId!, '--state-dir', sb.stateDir], {cwd: sb.cwd, answers: [{prompt: 'Shift 100% of clpr.tv', keys: '\x03'}]})
    expect(interrupted.code, interrupted.screen).toBe(130)
    expect(interrupted.screen).toContain('interrupted at the prompt (Ctrl-C)')
    expect(interrupted.screen).toContain(`Continue: clipper-ops runs resume ${runId}`)
    expect(interrupted.screen).toContain('Undo: clipper-ops rollback --env sandbox')
    expect(await liveWeights(sb)).toEqual({legacy: 90, kubernetes: 10})
    expect(await shiftBatches(sb, since)).toHaveLength(1)

    const approved = await sb.cli(['runs', 'resume', runId!, '--yes', '--json'], {timeoutMs: 120_000})
    expect(approved.code, approved.stderr).toBe(0)
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
    expect(await shiftBatches(sb, since)).toHaveLength(2)
  })

  test('Ctrl-C (SIGINT) mid-rollout: exit 130, traffic stays, and the ending says where it is, read back', async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const run = await startRunInBackground(sb, ['rollout', '--env', 'sandbox', '--steps', '50,100', '--bake', '5s'])
    await waitForJournal(sb.stateDir, run.runId, (e) => e.type === 'step.intent' && e.stepId === 'shift[50].bake', run)
    run.child.kill('SIGINT')
    const r = await run.done
    expect(r.code, r.stderr).toBe(130)
    expect(r.stderr).toContain('Traffic now on clpr.tv: legacy 50%, kubernetes 50% (weights 50/50, read back from Route 53)')
    expect(r.stderr).not.toContain('Shift traffic back')
    expect(await liveWeights(sb)).toEqual({legacy: 50, kubernetes: 50})
    const resumed = await sb.cli(['runs', 'resume', run.runId], {timeoutMs: 120_000})
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stderr).toContain('Traffic now on clpr.tv: legacy 0%, kubernetes 100%')
  })

  test('throttling and PriorRequestNotComplete on Route 53: the rollout still completes', {timeout: 120_000}, async () => {
    const sb = sandbox()
    // A fresh world: the failed stack's errors of the last minute would fail the error-ratio gate.
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const since = new Date().toISOString()
    await sb.cli(['sandbox', 'fault', '--api', 'route53:ChangeResourceRecordSets', '--throttle', '2'])
    await sb.cli(['sandbox', 'fault', '--api', 'route53:GetChange', '--prior-request-not-complete', '2'])
    await sb.cli(['sandbox', 'fault', '--api', 'route53:ListResourceRecordSets', '--throttle', '1'])
    const r = await sb.cli(['rollout', '--env', 'sandbox', '--steps', '50,100', '--bake', '1s'], {timeoutMs: 120_000})
    await sb.cli(['sandbox', 'fault', '--clear'])
    expect(r.code, r.stderr).toBe(0)
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
    const log = await sb.requests(since)
    expect(log.filter((e) => e.status === 400 && e.fault === 'throttle').length).toBeGreaterThanOrEqual(3)
    expect(log.filter((e) => e.status === 400 && e.fault === 'priorRequestNotComplete').length).toBe(2)
    expect(await shiftBatches(sb, since)).toHaveLength(2)
  })

  test('the answer to our own lock CREATE is lost: the retry finds our record, and the run goes on (found by the chaos campaign)', {timeout: 120_000}, async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    expect((await sb.cli(['sandbox', 'fault', '--api', 'route53:ChangeResourceRecordSets', '--lost-response', '1'])).code).toBe(0)
    const r = await sb.cli(['rollout', '--env', 'sandbox', '--steps', '100', '--bake', '1s'], {timeoutMs: 120_000})
    await sb.cli(['sandbox', 'fault', '--clear'])
    expect(r.code, r.stderr).toBe(0)
    expect(await liveWeights(sb)).toEqual({legacy: 0, kubernetes: 100})
  })

  test('one operator at a time: a second rollout while one runs is refused, naming the holder of the Route 53 lock', async () => {
    const sb = sandbox()
    expect((await sb.cli(['sandbox', 'reset', '--traffic'])).code).toBe(0)
    const first = await startRunInBackground(sb, ['rollout', '--env', 'sandbox', '--steps', '100', '--bake', '4s'])
    const runId = first.runId
    await waitFor(() => readJournal(sb.stateDir, runId).some((e) => e.type === 'run.attempt'))
    const second = await sb.cli(['rollout', '--env', 'sandbox'])
    expect(second.code).toBe(1)
    expect(second.stderr).toContain('sandbox is locked (Route 53 TXT _clipper-ops-lock.clpr.tv.')
    expect(second.stderr).toContain(`for run ${runId} (cutover)`)
    expect(second.stderr).toContain(`pid ${first.child.pid}`)
    const unlock = await sb.cli(['runs', 'unlock', 'sandbox'])
    expect(unlock.code, unlock.stderr).toBe(0) // without --force it shows the holder
    expect(unlock.stdout).toContain(`sandbox is locked`)
    expect(unlock.stdout).toContain('The holder looks alive')
    expect((await first.done).code).toBe(0)
    // Released: nothing holds it now.
    const after = await sb.cli(['runs', 'unlock', 'sandbox', '--json'])
    expect(JSON.parse(after.stdout)).toMatchObject({locked: false})
  })
})
