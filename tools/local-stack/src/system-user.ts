import { readFile } from 'node:fs/promises'

export interface SystemUser {
  uid: number
  gid: number
}

/** Looks a user up in /etc/passwd; undefined if there is no such user. */
export async function lookupUser(name: string): Promise<SystemUser | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '')
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':')
    if (user === name && uid && gid) return { uid: Number(uid), gid: Number(gid) }
  }
  return undefined
}

export const isRoot = (): boolean => process.getuid?.() === 0
