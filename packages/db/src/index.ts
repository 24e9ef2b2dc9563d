export * from './client.js'
export * from './migrate.js'
export * from './pem-file.js'
export * from './seed.js'
