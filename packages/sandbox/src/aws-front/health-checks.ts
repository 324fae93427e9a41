/**
 * Route 53 health-check status, measured. moto answers GetHealthCheckStatus with "Success" for
 * any check, so a stack that is down still looks healthy. The front answers it itself: it reads
 * the check's config from moto, sends the HTTP request the checkers would send, and reports what
 * it saw from a few checker regions, in Route 53's XML.
 */
import {GetHealthCheckCommand, type Route53Client} from '@aws-sdk/client-route-53'
import type {HttpAnswer} from './wire-errors.js'

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1']

async function observe(type: string, ip: string, port: number, path: string, timeoutMs: number): Promise<string> {
  const scheme = type.startsWith('HTTPS') ? 'https' : 'http'
  try {
    const r = await fetch(`${scheme}://${ip}:${port}${path}`, {signal: AbortSignal.timeout(timeoutMs), redirect: 'manual'})
    await r.arrayBuffer()
    const ok = r.status >= 200 && r.status < 400
    return `${ok ? 'Success' : 'Failure'}: HTTP Status Code ${r.status}, ${r.statusText || 'OK'}`
  } catch (error) {
    const e = error as {name?: string; cause?: {code?: string}}
    if (e.name === 'TimeoutError') return 'Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall.'
    return `Failure: ${e.cause?.code === 'ECONNREFUSED' ? 'Connection refused' : (e.cause?.code ?? 'Connection failed')}. The endpoint or the internet connection is down, or requests are being blocked by your firewall.`
  }
}

function xml(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({'<': '&lt;', '>': '&gt;', '&': '&amp;'})[c]!)
}

/** The answer to GetHealthCheckStatus; undefined for checks we cannot measure (moto answers). */
export async function healthCheckStatus(client: Route53Client, id: string): Promise<HttpAnswer | undefined> {
  let cfg
  try {
    cfg = (await client.send(new GetHealthCheckCommand({HealthCheckId: id}))).HealthCheck?.HealthCheckConfig
  } catch {
    return undefined // NoSuchHealthCheck and friends: moto's own answer is the right one
  }
  if (!cfg?.IPAddress || !cfg.Type?.startsWith('HTTP')) return undefined
  const port = cfg.Port ?? (cfg.Type.startsWith('HTTPS') ? 443 : 80)
  const status = await observe(cfg.Type, cfg.IPAddress, port, cfg.ResourcePath ?? '/', 2000)
  const checked = new Date().toISOString()
  const observations = REGIONS.map(
    (r) =>
      `<HealthCheckObservation><Region>${r}</Region><IPAddress>${xml(cfg.IPAddress!)}</IPAddress><StatusReport><Status>${xml(status)}</Status><CheckedTime>${checked}</CheckedTime></StatusReport></HealthCheckObservation>`,
  ).join('')
  return {
    status: 200,
    headers: {'content-type': 'text/xml'},
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<GetHealthCheckStatusResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HealthCheckObservations>${observations}</HealthCheckObservations></GetHealthCheckStatusResponse>`,
  }
}
