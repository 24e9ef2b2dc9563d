import type { Ad, AdCreate, AdMedia, AdPatch } from '@adtrack/contracts'
import { useState } from 'preact/hooks'

/** What the form holds: strings as typed, so nothing is coerced before the API judges it. */
interface Draft {
  id: string
  title: string
  target_url: string
  image_url: string
  status: 'active' | 'paused'
  withMedia: boolean
  media_url: string
  media_type: AdMedia['type']
  media_width: string
  media_height: string
  media_duration: string
}

const fromAd = (ad: Ad | undefined): Draft => ({
  id: ad?.id ?? '',
  title: ad?.title ?? '',
  target_url: ad?.target_url ?? '',
  image_url: ad?.image_url ?? '',
  status: ad?.status ?? 'active',
  withMedia: ad ? ad.media !== null : false,
  media_url: ad?.media?.url ?? '',
  media_type: ad?.media?.type ?? 'video/mp4',
  media_width: String(ad?.media?.width ?? 640),
  media_height: String(ad?.media?.height ?? 360),
  media_duration: String(ad?.media?.duration_seconds ?? 10),
})

function mediaOf(d: Draft): AdMedia | null {
  if (!d.withMedia) return null
  return {
    url: d.media_url.trim(),
    type: d.media_type,
    width: Number(d.media_width),
    height: Number(d.media_height),
    duration_seconds: Number(d.media_duration),
  }
}

/** The POST /ads body: an empty id lets the server assign one. */
export function createBody(d: Draft): AdCreate {
  return {
    ...(d.id.trim() ? { id: d.id.trim() } : {}),
    title: d.title,
    image_url: d.image_url.trim(),
    target_url: d.target_url.trim(),
    status: d.status,
    media: mediaOf(d),
  }
}

/** The PATCH /ads/:id body: only what changed (the API refuses an empty one, which the form never sends). */
export function patchBody(d: Draft, ad: Ad): AdPatch {
  const patch: AdPatch = {}
  if (d.title !== ad.title) patch.title = d.title
  if (d.image_url.trim() !== ad.image_url) patch.image_url = d.image_url.trim()
  if (d.target_url.trim() !== ad.target_url) patch.target_url = d.target_url.trim()
  if (d.status !== ad.status) patch.status = d.status
  const media = mediaOf(d)
  if (JSON.stringify(media) !== JSON.stringify(ad.media)) patch.media = media
  return patch
}

interface AdFormProps {
  /** The ad being edited, or undefined for a new one. */
  ad: Ad | undefined
  busy: boolean
  onSubmit: (draft: Draft) => void
  onCancel: () => void
}

export function AdForm({ ad, busy, onSubmit, onCancel }: AdFormProps) {
  const [d, setDraft] = useState(() => fromAd(ad))
  const set =
    <K extends keyof Draft>(key: K) =>
    (e: Event) => {
      const el = e.currentTarget as HTMLInputElement
      const value = (el.type === 'checkbox' ? el.checked : el.value) as Draft[K]
      setDraft((prev) => ({ ...prev, [key]: value }))
    }
  const prefix = ad ? 'edit' : 'new'
  const field = (
    key: keyof Draft,
    label: string,
    type: 'text' | 'url' | 'number' = 'text',
    extra: Record<string, unknown> = {},
  ) => (
    <div class="field">
      <label for={`${prefix}-${key}`}>{label}</label>
      <input
        id={`${prefix}-${key}`}
        name={key}
        // TRICKY: Preact types each input type's attributes apart; a union of types reads as none of them.
        type={type as 'text'}
        value={d[key] as string}
        onInput={set(key)}
        autoComplete="off"
        {...extra}
      />
    </div>
  )

  return (
    <form
      class="card ad-form"
      // The API judges every field (its rules live in one place, packages/contracts) and its words are shown.
      noValidate
      aria-labelledby={`${prefix}-form-title`}
      onSubmit={(e) => {
        e.preventDefault()
        onSubmit(d)
      }}
    >
      <h2 id={`${prefix}-form-title`}>{ad ? 'Edit ad' : 'New ad'}</h2>
      {ad ? (
        <p class="hint">
          Id <code>{ad.id}</code> (cannot change)
        </p>
      ) : (
        field('id', 'Id (optional: the server assigns one)')
      )}
      {field('title', 'Title', 'text', { required: true, maxLength: 200 })}
      {field('target_url', 'Landing page URL', 'url', { required: true, placeholder: 'https://' })}
      {field('image_url', 'Image URL', 'url', { required: true, placeholder: 'https://' })}
      <div class="field">
        <label for={`${prefix}-status`}>Status</label>
        <select id={`${prefix}-status`} name="status" value={d.status} onChange={set('status')}>
          <option value="active">Active</option>
          <option value="paused">Paused</option>
        </select>
      </div>
      <fieldset>
        <legend>Video (for a VAST tag)</legend>
        <div class="field field-check">
          <input
            id={`${prefix}-withMedia`}
            type="checkbox"
            checked={d.withMedia}
            onChange={set('withMedia')}
          />
          <label for={`${prefix}-withMedia`}>This ad has a video</label>
        </div>
        {d.withMedia && (
          <div class="media-fields">
            {field('media_url', 'Video URL', 'url', { required: true, placeholder: 'https://' })}
            <div class="field">
              <label for={`${prefix}-media_type`}>Type</label>
              <select id={`${prefix}-media_type`} value={d.media_type} onChange={set('media_type')}>
                <option value="video/mp4">video/mp4</option>
                <option value="video/webm">video/webm</option>
              </select>
            </div>
            {field('media_width', 'Width (px)', 'number', { min: 1, step: 1 })}
            {field('media_height', 'Height (px)', 'number', { min: 1, step: 1 })}
            {field('media_duration', 'Duration (s)', 'number', { min: 0.001, step: 0.001 })}
          </div>
        )}
      </fieldset>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {ad ? 'Save changes' : 'Create ad'}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  )
}

export type { Draft }
