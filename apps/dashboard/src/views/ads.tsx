import type { Ad, AdAnalytics, AdsAnalytics } from '@adtrack/contracts'
import { useState } from 'preact/hooks'
import { useAdminKey } from '../admin-key.js'
import { adPath, api } from '../api.js'
import { AdForm, createBody, type Draft, patchBody } from '../components/ad-form.js'
import { Empty, ErrorMessage, Loading, Updated } from '../components/common.js'
import { formatCount, formatRate } from '../format.js'
import { usePolled } from '../poll.js'
import { hrefOf } from '../router.js'

const PAGE_SIZE = 25

interface Page {
  ads: Ad[]
  analytics: Map<string, AdAnalytics>
}

/**
 * The ads, a page at a time, with their headline numbers. Each refresh is two requests however many ads
 * the page holds: GET /ads for the page, GET /analytics/ads?ids= for all of its ads at once.
 */
export function AdsView() {
  const [offset, setOffset] = useState(0)
  const [adminKey, setAdminKey] = useAdminKey()
  const [editing, setEditing] = useState<Ad | 'new' | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const [actionError, setActionError] = useState<Error | undefined>(undefined)
  const [done, setDone] = useState('')
  const [archiving, setArchiving] = useState<string | undefined>(undefined)

  const page = usePolled<Page>(`ads:${offset}`, async (_previous, signal) => {
    const ads = await api<Ad[]>(`/ads?limit=${PAGE_SIZE}&offset=${offset}`, { signal })
    if (ads.length === 0) return { ads, analytics: new Map() }
    const ids = ads.map((a) => encodeURIComponent(a.id)).join(',')
    const reply = await api<AdsAnalytics>(`/analytics/ads?ids=${ids}`, { signal })
    return { ads, analytics: new Map(reply.ads.map((a) => [a.ad_id, a])) }
  })

  /** One admin request; its outcome is announced, and the list refreshed at once. */
  async function act(what: string, run: () => Promise<unknown>): Promise<boolean> {
    setBusy(true)
    setActionError(undefined)
    setDone('')
    try {
      await run()
      setDone(what)
      page.refresh()
      return true
    } catch (err) {
      setActionError(err as Error)
      return false
    } finally {
      setBusy(false)
    }
  }

  const admin = adminKey ? { adminKey } : {}
  const submit = async (draft: Draft) => {
    const ad = editing === 'new' ? undefined : editing
    const ok = ad
      ? await act(`Saved “${draft.title}”.`, () =>
          api<Ad>(adPath(ad.id), { method: 'PATCH', body: patchBody(draft, ad), ...admin }),
        )
      : await act(`Created “${draft.title}”.`, () =>
          api<Ad>('/ads', { method: 'POST', body: createBody(draft), ...admin }),
        )
    if (ok) setEditing(undefined)
  }
  const setStatus = (ad: Ad, status: Ad['status']) =>
    act(`${status === 'paused' ? 'Paused' : 'Resumed'} “${ad.title}”.`, () =>
      api<Ad>(adPath(ad.id), { method: 'PATCH', body: { status }, ...admin }),
    )
  const archive = async (ad: Ad) => {
    await act(`Archived “${ad.title}”.`, () => api<void>(adPath(ad.id), { method: 'DELETE', ...admin }))
    setArchiving(undefined)
  }

  const ads = page.data?.ads
  return (
    <section aria-labelledby="ads-title">
      <div class="view-head">
        <h1 id="ads-title">Ads</h1>
        <Updated at={page.updatedAt} live />
      </div>
      <AdminKeyField value={adminKey} onSave={setAdminKey} />
      <ErrorMessage error={actionError} />
      {done && (
        <p class="notice notice-done" role="status">
          {done}
        </p>
      )}
      {editing ? (
        <AdForm
          key={editing === 'new' ? 'new' : editing.id}
          ad={editing === 'new' ? undefined : editing}
          busy={busy}
          onSubmit={submit}
          onCancel={() => setEditing(undefined)}
        />
      ) : (
        <p>
          <button type="button" class="primary" onClick={() => setEditing('new')}>
            New ad
          </button>
        </p>
      )}
      <ErrorMessage error={page.error} />
      {page.loading && <Loading what="ads" />}
      {ads && ads.length === 0 && <Empty>{offset === 0 ? 'No ads yet: create one.' : 'No more ads.'}</Empty>}
      {ads && ads.length > 0 && (
        <div class="card table-card">
          <table class="ads-table">
            <caption class="visually-hidden">Ads and their lifetime numbers</caption>
            <thead>
              <tr>
                <th scope="col">Ad</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Impressions
                </th>
                <th scope="col" class="num">
                  Clicks
                </th>
                <th scope="col" class="num">
                  CTR
                </th>
                <th scope="col" class="num">
                  Completion
                </th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {ads.map((ad) => {
                const a = page.data?.analytics.get(ad.id)
                return (
                  <tr key={ad.id} data-ad={ad.id}>
                    <th scope="row">
                      <a href={hrefOf.ad(ad.id)} class="ad-link" data-ad-title>
                        {ad.title}
                      </a>
                      <span class="ad-id">{ad.id}</span>
                    </th>
                    <td data-label="Status">
                      <span class={`status status-${ad.status}`} data-ad-status>
                        {ad.status}
                      </span>
                    </td>
                    <td class="num" data-label="Impressions" data-ad-stat="impressions">
                      {a ? formatCount(a.impressions) : '…'}
                    </td>
                    <td class="num" data-label="Clicks" data-ad-stat="clicks">
                      {a ? formatCount(a.click_count) : '…'}
                    </td>
                    <td class="num" data-label="CTR">
                      {a ? formatRate(a.ctr) : '…'}
                    </td>
                    <td class="num" data-label="Completion">
                      {a ? formatRate(a.completion_rate) : '…'}
                    </td>
                    <td class="row-actions">
                      <button
                        type="button"
                        disabled={busy}
                        onClick={() => setEditing(ad)}
                        aria-label={`Edit ${ad.title}`}
                      >
                        Edit
                      </button>
                      {ad.status === 'active' ? (
                        <button
                          type="button"
                          disabled={busy}
                          onClick={() => setStatus(ad, 'paused')}
                          aria-label={`Pause ${ad.title}`}
                        >
                          Pause
                        </button>
                      ) : (
                        <button
                          type="button"
                          disabled={busy}
                          onClick={() => setStatus(ad, 'active')}
                          aria-label={`Resume ${ad.title}`}
                        >
                          Resume
                        </button>
                      )}
                      {archiving === ad.id ? (
                        <>
                          <button type="button" class="danger" disabled={busy} onClick={() => archive(ad)}>
                            Confirm archive
                          </button>
                          <button type="button" onClick={() => setArchiving(undefined)}>
                            Keep
                          </button>
                        </>
                      ) : (
                        <button
                          type="button"
                          disabled={busy}
                          onClick={() => setArchiving(ad.id)}
                          aria-label={`Archive ${ad.title}`}
                        >
                          Archive
                        </button>
                      )}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of ads">
        <button
          type="button"
          disabled={offset === 0}
          onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}
        >
          Previous
        </button>
        <button
          type="button"
          disabled={!ads || ads.length < PAGE_SIZE}
          onClick={() => setOffset(offset + PAGE_SIZE)}
        >
          Next
        </button>
      </nav>
    </section>
  )
}

/**
 * The admin key, typed here and kept in sessionStorage for this tab only. It is a password field (not
 * echoed, not autofilled into other forms), and it is never put in a URL or written to the console.
 */
function AdminKeyField({ value, onSave }: { value: string; onSave: (key: string) => void }) {
  const [draft, setDraft] = useState(value)
  return (
    <form
      class="card admin-key"
      onSubmit={(e) => {
        e.preventDefault()
        onSave(draft.trim())
      }}
    >
      <div class="field">
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={draft}
          onInput={(e) => setDraft((e.currentTarget as HTMLInputElement).value)}
          aria-describedby="admin-key-hint"
        />
      </div>
      <div class="actions">
        <button type="submit">Use key</button>
        {value && (
          <button
            type="button"
            onClick={() => {
              setDraft('')
              onSave('')
            }}
          >
            Forget key
          </button>
        )}
      </div>
      <p id="admin-key-hint" class="hint">
        {value
          ? 'A key is set for this tab. It is kept until the tab closes and sent only with changes.'
          : 'Needed to create, edit, pause or archive ads. Kept in this tab only.'}
      </p>
    </form>
  )
}
