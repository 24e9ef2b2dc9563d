import { describe, expect, it } from 'vitest'
import { initdbArgs, postgresConf, postgresTlsUrl, postgresUrl, socketDirectory } from './postgres-config.js'

const settingsOf = (conf: string) =>
  Object.fromEntries(
    conf
      .split('\n')
      .filter((line) => line.includes(' = '))
      .map((line) => line.split(' = ') as [string, string]),
  )

describe('postgresConf', () => {
  it('listens on loopback only, on the given port, with the socket in the data dir', () => {
    const settings = settingsOf(postgresConf({ dataDir: '/data/pg', port: 15432 }))
    expect(settings).toMatchObject({
      listen_addresses: "'127.0.0.1'",
      port: '15432',
      unix_socket_directories: "'/data/pg'",
      fsync: "'on'",
      max_connections: '200',
      log_destination: "'stderr'",
    })
  })

  it('serves TLS with the certificate copied into the data dir when asked, and not otherwise', () => {
    const settings = settingsOf(postgresConf({ dataDir: '/data/pg', port: 15432, tls: true }))
    expect(settings).toMatchObject({
      ssl: "'on'",
      ssl_cert_file: "'server.crt'",
      ssl_key_file: "'server.key'",
    })
    expect(settingsOf(postgresConf({ dataDir: '/data/pg', port: 15432 })).ssl).toBeUndefined()
  })

  it('gives the TLS URL by the host name the certificate carries, verify-full against the CA', () => {
    expect(postgresTlsUrl(15432, '/d/my tls/ca.pem')).toBe(
      'postgres://postgres:password@localhost:15432/ad_tracking?sslmode=verify-full&sslrootcert=/d/my%20tls/ca.pem',
    )
  })

  it('doubles single quotes in paths so the file still parses', () => {
    const settings = settingsOf(postgresConf({ dataDir: "/tmp/it's", port: 5432 }))
    expect(settings.unix_socket_directories).toBe("'/tmp/it''s'")
  })
})

describe('socketDirectory', () => {
  it('keeps the data dir when the socket path fits in sun_path', () => {
    expect(socketDirectory('/work/main/.data/postgres', 5432)).toBe('/work/main/.data/postgres')
  })

  it('turns the socket off when the path would exceed 107 bytes', () => {
    const deep = `/tmp/${'x'.repeat(100)}`
    expect(socketDirectory(deep, 5432)).toBe('')
  })
})

describe('initdb and URL', () => {
  it('initialises a UTF8 cluster with superuser postgres and trust auth', () => {
    expect(initdbArgs('/d')).toEqual([
      '-D',
      '/d',
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
    ])
  })

  it('points at the ad_tracking database on 127.0.0.1', () => {
    expect(postgresUrl(6543)).toBe('postgres://postgres:password@127.0.0.1:6543/ad_tracking')
  })
})
