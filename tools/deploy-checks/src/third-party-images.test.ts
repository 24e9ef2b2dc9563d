import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { composeFile, deployDir, k8sDir } from './paths.js'

// Images this repository does not build: each pinned to an exact release, and to the digest that
// deploy/third-party-images.yaml records for it, wherever it is used. Read from the files as written
// (the rendered overlays and compose-go's normalised project say the same, and need the tools).

interface Pin {
  image: string
  digest: string | null
}

const loadPins = async () =>
  (parseYaml(await readFile(join(deployDir, 'third-party-images.yaml'), 'utf8')) as { images: Pin[] }).images

/** Every image reference outside ad-tracking/*, with the file it is in. */
async function thirdPartyImages(): Promise<{ ref: string; where: string }[]> {
  const found: { ref: string; where: string }[] = []
  const compose = parseYaml(await readFile(composeFile, 'utf8')) as {
    services: Record<string, { image?: string }>
  }
  for (const [name, s] of Object.entries(compose.services))
    if (s.image) found.push({ ref: s.image, where: `docker-compose.yml ${name}` })
  const dev = join(k8sDir, 'overlays/dev')
  for (const file of await readdir(dev))
    for (const m of (await readFile(join(dev, file), 'utf8')).matchAll(/^\s*image:\s*(\S+)/gm))
      found.push({ ref: m[1] as string, where: `overlays/dev/${file}` })
  const dockerfile = await readFile(join(deployDir, 'Dockerfile'), 'utf8')
  const args = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)/gm)].map((m) => [m[1], m[2]]))
  for (const m of dockerfile.matchAll(/^FROM\s+(\S+)/gm)) {
    const ref = (m[1] as string).replaceAll(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? '')
    // FROM <earlier stage> names no image.
    if (!/^[a-z]+$/.test(ref)) found.push({ ref, where: 'deploy/Dockerfile' })
  }
  return found.filter((f) => !f.ref.startsWith('ad-tracking/') && !f.ref.includes('${'))
}

describe('third-party images', () => {
  it('are each in deploy/third-party-images.yaml, written with the digest recorded there', async () => {
    const pins = await loadPins()
    const found = await thirdPartyImages()
    expect(found.length).toBeGreaterThanOrEqual(7)
    for (const { ref, where } of found) {
      const [image, digest] = ref.split('@')
      const pin = pins.find((p) => p.image === image)
      expect(pin, `${where}: ${ref} is not in deploy/third-party-images.yaml`).toBeDefined()
      expect(digest ?? null, `${where}: ${ref}`).toBe(pin?.digest ?? null)
    }
    // No pin kept for an image nothing uses any more.
    for (const pin of pins)
      expect(
        found.map((f) => f.ref.split('@')[0]),
        pin.image,
      ).toContain(pin.image)
  })

  it('are pinned to exact releases: never latest, a bare major or minor, or a malformed digest', async () => {
    for (const pin of await loadPins()) {
      const tag = pin.image.split(':')[1] ?? ''
      expect(tag, pin.image).not.toBe('latest')
      // 16.10-alpine, 3.9.1, v3.5.0, 24.21.0-bookworm-slim: at least major.minor.patch or major.minor
      // for projects whose minor is their release (PostgreSQL), never a bare 16 or 7-alpine.
      expect(tag, pin.image).toMatch(/^v?\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$/)
      if (!pin.image.startsWith('postgres:')) expect(tag, pin.image).toMatch(/^v?\d+\.\d+\.\d+/)
      if (pin.digest !== null) expect(pin.digest, pin.image).toMatch(/^sha256:[0-9a-f]{64}$/)
    }
  })
})
