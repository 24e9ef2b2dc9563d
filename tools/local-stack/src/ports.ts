import { createServer } from 'node:net'

const LOOPBACK = '127.0.0.1'

/** True if nothing listens on 127.0.0.1:port (binding there would succeed). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(false)
      else reject(new Error(`cannot check port ${port}: ${err.message}`))
    })
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => {
      server.close(() => resolve(true))
    })
  })
}

export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly purpose: string,
  ) {
    super(`port ${port} (${purpose}) is already in use; stop whatever listens there or choose another port`)
    this.name = 'PortInUseError'
  }
}

/**
 * Fails before a server is spawned rather than after: a server that cannot bind dies with a message buried
 * in its log, and a readiness probe could even succeed against the stranger holding the port.
 */
export async function assertPortFree(port: number, purpose: string): Promise<void> {
  if (!(await isPortFree(port))) throw new PortInUseError(port, purpose)
}

// The OS hands out ephemeral ports in a sequence that can repeat once a port is closed again; remembering
// what this process already handed out keeps one stack from getting the same port twice.
const handedOut = new Set<number>()

/** A port that is free on 127.0.0.1 right now and was not returned before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeralPort()
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('could not find a free port on 127.0.0.1')
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))))
    })
  })
}
