import { connect, type Socket } from 'node:net'

export interface RawResponse {
  status: number
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Record<string, string>
  body: string
}

export interface RawRequest {
  method: string
  path: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Send the head with `Expect: 100-continue`, and the body only once the server says 100 Continue. */
  expectContinue?: boolean
}

/**
 * HTTP/1.1 on one TCP connection, byte for byte: what a request really carried (an Expect header), which
 * interim answers came back, and whether the next request went down the same connection, none of which
 * fetch lets a test see. Responses must carry Content-Length (nginx's and the services' do).
 */
export class RawConnection {
  #buffer = Buffer.alloc(0)
  #waiters: (() => void)[] = []
  /** Set when the server ended the connection: 'end' for a clean FIN, else the socket error's code. */
  ended: string | undefined

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      this.#wake()
    })
    socket.on('end', () => {
      this.ended ??= 'end'
      this.#wake()
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.ended ??= err.code ?? err.message
      this.#wake()
    })
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url)
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  /** Sends one request; resolves with the interim (1xx) statuses seen and the final response. */
  async request(req: RawRequest): Promise<{ interim: number[]; response: RawResponse }> {
    const body = typeof req.body === 'string' ? Buffer.from(req.body) : (req.body ?? Buffer.alloc(0))
    const headers: Record<string, string> = {
      host: 'gateway.test',
      ...(body.length > 0 || req.method === 'POST' ? { 'content-length': String(body.length) } : {}),
      ...(req.expectContinue ? { expect: '100-continue' } : {}),
      ...req.headers,
    }
    const head = [
      `${req.method} ${req.path} HTTP/1.1`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ]
    this.socket.write(`${head.join('\r\n')}\r\n\r\n`)
    const interim: number[] = []
    if (!req.expectContinue) this.socket.write(body)
    for (;;) {
      const response = await this.#readResponse()
      if (response.status >= 200) return { interim, response }
      interim.push(response.status)
      if (response.status === 100 && req.expectContinue) this.socket.write(body)
    }
  }

  /** Sends raw bytes (a malformed request) and reads one response. */
  async sendRaw(bytes: string): Promise<RawResponse> {
    this.socket.write(bytes)
    return this.#readResponse()
  }

  /** Resolves once the server has ended the connection, with how ('end' for a clean close). */
  async closedByServer(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`the server kept the connection open for ${timeoutMs} ms`)
      await this.#wait(deadline - Date.now())
    }
    return this.ended
  }

  close(): void {
    this.socket.destroy()
  }

  async #readResponse(timeoutMs = 20_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const parsed = this.#parse()
      if (parsed) return parsed
      if (this.ended) throw new Error(`connection ended (${this.ended}) before a complete response`)
      if (Date.now() > deadline) throw new Error(`no complete response within ${timeoutMs} ms`)
      await this.#wait(deadline - Date.now())
    }
  }

  #parse(): RawResponse | undefined {
    const end = this.#buffer.indexOf('\r\n\r\n')
    if (end < 0) return undefined
    const [statusLine = '', ...lines] = this.#buffer.subarray(0, end).toString('latin1').split('\r\n')
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1])
    if (!status) throw new Error(`not an HTTP response: ${statusLine}`)
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    if (headers['transfer-encoding']) throw new Error('chunked responses are not supported here')
    const length = status < 200 ? 0 : Number(headers['content-length'] ?? 0)
    if (this.#buffer.length < end + 4 + length) return undefined
    const body = this.#buffer.subarray(end + 4, end + 4 + length).toString('utf8')
    this.#buffer = this.#buffer.subarray(end + 4 + length)
    return { status, headers, body }
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter()
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}
