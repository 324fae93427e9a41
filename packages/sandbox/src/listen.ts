import type {Server} from 'node:http'
import type {AddressInfo} from 'node:net'

/** Listen on host:port (0: a free port); resolves with the port and the server's base URL. */
export function listen(server: Server, port: number | undefined, host: string): Promise<{port: number; url: string}> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port ?? 0, host, () => {
      server.off('error', reject)
      const p = (server.address() as AddressInfo).port
      resolve({port: p, url: `http://${host.includes(':') ? `[${host}]` : host}:${p}`})
    })
  })
}
