import { describe, expect, it } from 'vitest'
import { redisArgs, redisTlsUrl, redisUrl } from './redis-config.js'

const option = (args: string[], name: string) => args[args.indexOf(name) + 1]

describe('redisArgs', () => {
  it('binds loopback on the port, keeps files in the data dir and stays in the foreground', () => {
    const args = redisArgs({ port: 16379, dataDir: '/r', persist: false })
    expect(option(args, '--port')).toBe('16379')
    expect(option(args, '--bind')).toBe('127.0.0.1')
    expect(option(args, '--dir')).toBe('/r')
    expect(option(args, '--daemonize')).toBe('no')
  })

  it('passes an empty save rule as its own argument, turning RDB snapshots off', () => {
    const args = redisArgs({ port: 1, dataDir: '/r', persist: true })
    expect(option(args, '--save')).toBe('')
  })

  it('writes an append-only file synced every second only when persisting', () => {
    const persistent = redisArgs({ port: 1, dataDir: '/r', persist: true })
    expect(option(persistent, '--appendonly')).toBe('yes')
    expect(option(persistent, '--appendfsync')).toBe('everysec')
    const throwaway = redisArgs({ port: 1, dataDir: '/r', persist: false })
    expect(option(throwaway, '--appendonly')).toBe('no')
    expect(throwaway).not.toContain('--appendfsync')
  })

  it('builds the URL services use', () => {
    expect(redisUrl(6380)).toBe('redis://127.0.0.1:6380')
  })

  it('adds a TLS port with the certificate when asked, asking clients for none', () => {
    const args = redisArgs({
      port: 16379,
      dataDir: '/r',
      persist: false,
      tls: { port: 16380, certFile: '/t/server.pem', keyFile: '/t/server.key' },
    })
    expect(option(args, '--port')).toBe('16379')
    expect(option(args, '--tls-port')).toBe('16380')
    expect(option(args, '--tls-cert-file')).toBe('/t/server.pem')
    expect(option(args, '--tls-key-file')).toBe('/t/server.key')
    expect(option(args, '--tls-auth-clients')).toBe('no')
    expect(redisArgs({ port: 1, dataDir: '/r', persist: false })).not.toContain('--tls-port')
    expect(redisTlsUrl(16380)).toBe('rediss://localhost:16380')
  })
})
