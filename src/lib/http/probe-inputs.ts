/** Inputs that every HTTP-probing step kind takes (http-check, gate-http), defined once. */
import {z} from 'zod'
import {duration, fraction, httpUrl} from '../config/schema.js'

export const probeInputs = {
  url: httpUrl('https://clpr.tv/health'),
  concurrency: z.number().int().min(1).max(256).default(4),
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
  headers: z.record(z.string(), z.string()).optional(),
  /** Status codes that count as success; default 200–399. */
  expectStatus: z.array(z.number().int().min(100).max(599)).optional(),
  /** Per-request timeout. */
  timeout: duration().default('5s'),
  /** Highest acceptable error rate; default: the environment's SLO. */
  maxErrorRate: fraction.optional(),
  /** Highest acceptable p95 latency; default: the environment's SLO. */
  maxP95: duration('a latency').optional(),
}
