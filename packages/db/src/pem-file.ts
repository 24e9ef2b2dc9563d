import { readFileSync } from 'node:fs'

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----'

/** A CA file that cannot be used; the message starts with the setting's name. */
export class PemFileError extends Error {
  override name = 'PemFileError'
}

/**
 * Reads a PEM file of CA certificates now, throwing a PemFileError named after `setting` when it cannot
 * be read or holds no certificate, and returns a function that reads it again.
 * NOTE: the TLS clients (postgres.js, kafkajs) copy their `ssl` options into every new connection, so a
 * getter that calls this hands each connection the CA as the file holds it then: a renewed CA, which
 * Kubernetes writes into the mounted Secret by itself, is used without a restart (CloudNativePG renews
 * its CA every 90 days, 7 days before the old one expires). A read that fails or finds no certificate
 * (a half-written file) keeps the last good one.
 */
export function pemCertificateFile(path: string, setting: string): () => string {
  let last: string
  try {
    last = readFileSync(path, 'utf8')
  } catch (err) {
    throw new PemFileError(`${setting} cannot be read: ${(err as Error).message}`)
  }
  if (!last.includes(PEM_CERTIFICATE)) throw new PemFileError(`${setting} ${path} holds no PEM certificate`)
  return () => {
    try {
      const now = readFileSync(path, 'utf8')
      if (now.includes(PEM_CERTIFICATE)) last = now
    } catch {
      // the last good certificates stay
    }
    return last
  }
}

/** Defines `ca` on TLS options as a getter, so that each connection copies the file's current CA. */
export function withCurrentCa<T extends object, C>(options: T, ca: () => C): T & { readonly ca: C } {
  return Object.defineProperty(options, 'ca', { get: ca, enumerable: true }) as T & { readonly ca: C }
}
