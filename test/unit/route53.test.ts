/**
 * The pure parts of the weighted-DNS logic: judging the live pair, building the guarded change
 * batch, never writing all-zero, and how long a change takes to reach everyone.
 */
import type {ResourceRecordSet} from '@aws-sdk/client-route-53'
import {describe, expect, test} from 'vitest'
import {effectiveTtl, judgePair, shares, shiftChanges, type DnsConfig, type LivePair} from '../../src/lib/aws/route53.js'

const cfg: DnsConfig = {
  zoneId: 'Z1',
  name: 'clpr.tv.',
  type: 'A',
  ttl: 60,
  maxTtl: 300,
  targets: {
    legacy: {setIdentifier: 'compose', values: ['203.0.113.10']},
    kubernetes: {setIdentifier: 'k8s', alias: {dnsName: 'k8s.elb.amazonaws.com', hostedZoneId: 'Z35SXDOTRQ7X7K', evaluateTargetHealth: true, ttl: 60}},
  },
}
const legacy = (w: number, extra: Partial<ResourceRecordSet> = {}): ResourceRecordSet => ({
  Name: 'clpr.tv.',
  Type: 'A',
  SetIdentifier: 'compose',
  Weight: w,
  TTL: 60,
  ResourceRecords: [{Value: '203.0.113.10'}],
  ...extra,
})
const k8s = (w: number): ResourceRecordSet => ({
  Name: 'clpr.tv.',
  Type: 'A',
  SetIdentifier: 'k8s',
  Weight: w,
  AliasTarget: {DNSName: 'k8s.elb.amazonaws.com.', HostedZoneId: 'Z35SXDOTRQ7X7K', EvaluateTargetHealth: true},
})
const pair = (...all: ResourceRecordSet[]): LivePair => ({
  all,
  simple: all.find((r) => r.SetIdentifier === undefined),
  byRole: {legacy: all.find((r) => r.SetIdentifier === 'compose'), kubernetes: all.find((r) => r.SetIdentifier === 'k8s')},
  strangers: [],
})

describe('the weighted pair', () => {
  test('a consistent pair is safe; all-zero, a simple record beside it, a long TTL, other values are not', () => {
    expect(judgePair(cfg, pair(legacy(100), k8s(0)))).toEqual([])
    expect(judgePair(cfg, pair(legacy(0), k8s(0))).map((p) => p.message)).toEqual(['both weights are 0: Route 53 then splits traffic equally'])
    const simple = {Name: 'clpr.tv.', Type: 'A' as const, TTL: 60, ResourceRecords: [{Value: '203.0.113.10'}]}
    expect(judgePair(cfg, pair(simple, legacy(100), k8s(0)))[0]!.message).toContain('simple (non-weighted) record beside the weighted ones')
    expect(judgePair(cfg, pair(legacy(100, {TTL: 3600}), k8s(0)))[0]!.message).toContain('TTL 3600s, above the allowed 300s')
    expect(judgePair(cfg, pair(legacy(100, {ResourceRecords: [{Value: '198.51.100.7'}]}), k8s(0)))[0]!.message).toContain('has values 198.51.100.7; the config says 203.0.113.10')
    expect(judgePair(cfg, pair(legacy(100)))[0]!.message).toContain('no weighted record with SetIdentifier "k8s"')
  })

  test('a shift DELETEs exactly the live records and CREATEs them with the new weights, in one batch', () => {
    const live = pair(legacy(90), k8s(10))
    expect(shiftChanges(cfg, live, {legacy: 50, kubernetes: 50})).toEqual([
      {Action: 'DELETE', ResourceRecordSet: legacy(90)},
      {Action: 'CREATE', ResourceRecordSet: legacy(50)},
      {Action: 'DELETE', ResourceRecordSet: k8s(10)},
      {Action: 'CREATE', ResourceRecordSet: k8s(50)},
    ])
    expect(shiftChanges(cfg, live, {legacy: 90, kubernetes: 10})).toEqual([])
    expect(shiftChanges(cfg, live, {legacy: 90, kubernetes: 20})).toHaveLength(2)
  })

  test('never all-zero, never out of range; a simple record is converted only when asked', () => {
    const live = pair(legacy(100), k8s(0))
    expect(() => shiftChanges(cfg, live, {legacy: 0, kubernetes: 0})).toThrow(/never writes it/)
    expect(() => shiftChanges(cfg, live, {legacy: 256, kubernetes: 0})).toThrow(/0 to 255/)
    const simple = {Name: 'clpr.tv.', Type: 'A' as const, TTL: 60, ResourceRecords: [{Value: '203.0.113.10'}]}
    expect(() => shiftChanges(cfg, pair(simple), {legacy: 100, kubernetes: 0})).toThrow(/convert: true/)
    const converted = shiftChanges(cfg, pair(simple), {legacy: 100, kubernetes: 0}, {convert: true})
    expect(converted.map((c) => [c.Action, c.ResourceRecordSet!.SetIdentifier ?? 'simple', c.ResourceRecordSet!.Weight])).toEqual([
      ['DELETE', 'simple', undefined],
      ['CREATE', 'compose', 100],
      ['CREATE', 'k8s', 0],
    ])
  })

  test("shares, and the time a change takes to reach everyone (an alias: its target's TTL)", () => {
    expect(shares([90, 10])).toEqual([0.9, 0.1])
    expect(shares([0, 0])).toEqual([0.5, 0.5])
    expect(effectiveTtl(cfg, pair(legacy(100, {TTL: 30}), k8s(0)))).toBe(60)
    expect(
      effectiveTtl(
        {...cfg, targets: {...cfg.targets, kubernetes: {...cfg.targets.kubernetes, alias: {...cfg.targets.kubernetes.alias!, ttl: 5}}}},
        pair(legacy(100, {TTL: 5}), k8s(0)),
      ),
    ).toBe(5)
  })
})
