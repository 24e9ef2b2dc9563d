/** How a process ended: its exit code, or the signal that killed it. */
export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** One running server process. */
export interface ManagedProcess {
  readonly name: string
  /** Undefined while the process is not running. */
  readonly pid: number | undefined
  /** The file its output goes to; error messages and the CLI point at it. */
  readonly logFile: string
  /** Graceful stop (the server's own clean shutdown signal), SIGKILL after the timeout; resolves once exited. */
  stop(timeoutMs?: number): Promise<void>
  /** Signals the process and all below it (default SIGKILL: a crashed container); resolves once exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** (Re)starts with the same config and data dir; resolves when ready to serve. No-op while running. */
  start(): Promise<void>
  /**
   * Calls `listener` when the process exits after having become ready without stop() or kill() asking it
   * to; returns a function that removes the listener.
   */
  onUnexpectedExit(listener: (exit: ProcessExit) => void): () => void
}

export interface PostgresServer extends ManagedProcess {
  /** postgres://postgres:password@127.0.0.1:PORT/ad_tracking (the database exists). */
  readonly url: string
  /** The same database over TLS, verify-full against the stack's CA, when started with TLS. */
  readonly tlsUrl: string | undefined
}

export interface RedisServer extends ManagedProcess {
  /** redis://127.0.0.1:PORT */
  readonly url: string
  /** rediss://localhost:TLS_PORT, when started with TLS. */
  readonly tlsUrl: string | undefined
}

export interface KafkaServer extends ManagedProcess {
  /** ['127.0.0.1:PORT'] */
  readonly brokers: string[]
  /** ['localhost:TLS_PORT']: SASL_SSL with SCRAM (LOCAL_KAFKA_SCRAM), when started with a TLS listener. */
  readonly tlsBrokers: string[] | undefined
}
