import { useState } from 'preact/hooks'

// The admin key is typed into the page and kept in sessionStorage only: it goes when the tab closes, is
// never in localStorage, a cookie, a URL or a log line, and is sent only as `Authorization: Bearer`.
const STORAGE_KEY = 'adtrack.admin-key'

function read(): string {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? ''
  } catch {
    // Storage refused (a privacy mode): the key lives as long as the page then.
    return ''
  }
}

export function useAdminKey(): [string, (key: string) => void] {
  const [key, setKey] = useState(read)
  const save = (next: string) => {
    try {
      if (next) sessionStorage.setItem(STORAGE_KEY, next)
      else sessionStorage.removeItem(STORAGE_KEY)
    } catch {
      // Kept in memory only; see read().
    }
    setKey(next)
  }
  return [key, save]
}
