import './styles.css'
import { render } from 'preact'
import { hrefOf, type Route, useRoute } from './router.js'
import { AdView } from './views/ad.js'
import { AdsView } from './views/ads.js'
import { OverviewView } from './views/overview.js'

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'overview':
      return <OverviewView />
    case 'ads':
      return <AdsView />
    case 'ad':
      // A new key per ad: moving from one ad to another starts its view afresh.
      return <AdView key={route.id} id={route.id} />
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no such page. <a href={hrefOf.overview}>Go to the overview.</a>
          </p>
        </section>
      )
  }
}

function App() {
  const route = useRoute()
  const current = (view: Route['view']) =>
    route.view === view || (view === 'ads' && route.view === 'ad') ? { 'aria-current': 'page' as const } : {}
  return (
    <>
      {/* NOTE: the hash holds the route, so skipping to the content moves focus rather than going to #main. */}
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <p class="brand">Ad tracking</p>
        <nav aria-label="Views">
          <a href={hrefOf.overview} {...current('overview')}>
            Overview
          </a>
          <a href={hrefOf.ads} {...current('ads')}>
            Ads
          </a>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <View route={route} />
      </main>
    </>
  )
}

render(<App />, document.getElementById('app') as HTMLElement)
