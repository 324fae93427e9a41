/**
 * The bundle gives @kubernetes/client-node Node's own undici (src/lib/k8s/undici-from-node.ts):
 * its Agent must take a kubeconfig's TLS options as undici's does — a cluster CA trusted, an
 * unknown one refused — against a real HTTPS server.
 */
import {readFileSync} from 'node:fs'
import {createServer, type Server} from 'node:https'
import type {AddressInfo} from 'node:net'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {Agent, fetch, ProxyAgent} from '../../src/lib/k8s/undici-from-node.js'

const ca = readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url), 'utf8')
const key = readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url), 'utf8')
let server: Server
let url: string

beforeAll(async () => {
  server = createServer({cert: ca, key}, (_req, res) => res.end('{"kind":"Status"}'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/version`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe("client-node's undici, from Node", () => {
  test('an Agent with the cluster CA reaches the API server over TLS', async () => {
    const dispatcher = new Agent({connect: {ca, keepAlive: true, keepAliveInitialDelay: 30_000}})
    const r = await fetch(url, {dispatcher} as RequestInit)
    expect(r.status).toBe(200)
    expect(await r.json()).toEqual({kind: 'Status'})
  })

  test('an Agent without it refuses the self-signed server; skip-tls-verify (rejectUnauthorized false) lets it through', async () => {
    await expect(fetch(url, {dispatcher: new Agent({connect: {}})} as RequestInit)).rejects.toThrow()
    const r = await fetch(url, {dispatcher: new Agent({connect: {rejectUnauthorized: false}})} as RequestInit)
    expect(r.status).toBe(200)
  })

  test("a kubeconfig's proxy-url is refused, saying what to do instead", () => {
    expect(() => new ProxyAgent({uri: 'http://proxy.corp:3128'})).toThrow(/proxy-url http:\/\/proxy\.corp:3128.*HTTPS_PROXY.*NODE_USE_ENV_PROXY=1/)
  })
})
