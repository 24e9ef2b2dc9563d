#!/bin/sh
# Builds one service of the monorepo into a self-contained directory: its compiled code, the compiled
# workspace packages it imports and its production dependencies, nothing else. `node dist/server.js` in
# that directory runs the service.
#
# deploy/Dockerfile runs the phases one RUN at a time (so Docker caches the dependency install), and the
# deploy checks (tools/deploy-checks) run `all`, which calls the very same phase functions in the same
# order, then start the result against real Kafka, PostgreSQL and Redis. A recipe that breaks the image
# breaks CI, with no Docker engine needed.
#
#   build-service.sh versions <repo>                   the pnpm and turbo versions <repo> pins
#   build-service.sh tools <repo>                      installs those globally with npm (image only)
#   build-service.sh prune <app> <repo> <pruned>       turbo prune --docker: <pruned>/json and <pruned>/full
#   build-service.sh install <work>                    frozen-lockfile install of <pruned>/json copied to <work>
#   build-service.sh build <app> <work>                compile <app> and the workspace packages it uses
#   build-service.sh deploy <app> <work> <out>         <out>: the app with production dependencies only
#   build-service.sh all <app> <out> [<repo>]          every phase above except tools, in a temporary <work>
#
# <app> is a folder under apps/ (ingest-api, click-worker, analytics-api). pnpm must be on PATH; turbo is
# taken from <repo>/node_modules/.bin when the repo is installed, else from PATH.
set -eu

say() { printf '[build-service] %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# The package name (@adtrack/<app>) of apps/<app>, read from its package.json.
package_name() { # <app> <dir containing apps/>
  [ -f "$2/apps/$1/package.json" ] || die "no app named '$1' (expected $2/apps/$1/package.json)"
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).name)' \
    "$2/apps/$1/package.json"
}

# Both build contexts pin their tools in the repo: pnpm in package.json's packageManager, turbo in the
# lockfile. Prints "pnpm@<version> turbo@<version>".
versions() { # <repo>
  pnpm_version=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).packageManager.replace(/^pnpm@/, ""))' "$1/package.json")
  turbo_version=$(awk '/^  \.:$/ { root = 1; next } root && /^  [^ ]/ { root = 0 }
    root && /^      turbo:$/ { found = 1; next } found && /version:/ { print $2; exit }' "$1/pnpm-lock.yaml")
  [ -n "$pnpm_version" ] && [ -n "$turbo_version" ] || die "cannot read the pnpm and turbo versions from $1"
  echo "pnpm@$pnpm_version turbo@$turbo_version"
}

tools() { # <repo>
  pins=$(versions "$1")
  say "npm install --global $pins"
  # shellcheck disable=SC2086 # two words on purpose
  npm install --global --no-audit --no-fund --no-update-notifier $pins
}

prune() { # <app> <repo> <pruned>
  pkg=$(package_name "$1" "$2")
  turbo=turbo
  [ -x "$2/node_modules/.bin/turbo" ] && turbo="$2/node_modules/.bin/turbo"
  say "turbo prune $pkg --docker"
  (cd "$2" && TURBO_TELEMETRY_DISABLED=1 "$turbo" prune "$pkg" --docker --out-dir "$3")
  # turbo prune carries package folders, the root package.json and the lockfile, not the root's shared
  # build configuration, which every package's tsconfig.json extends.
  cp "$2/tsconfig.base.json" "$3/full/"
}

install() { # <work>
  say 'pnpm install --frozen-lockfile'
  # Build-time install: every package's devDependencies (TypeScript) but no install scripts, none needed.
  (cd "$1" && pnpm install --frozen-lockfile --prefer-offline --ignore-scripts --reporter=append-only)
}

build() { # <app> <work>
  pkg=$(package_name "$1" "$2")
  say "building $pkg and the workspace packages it depends on"
  # --filter-prod: follow dependencies, not devDependencies, so test helpers are not compiled. A workspace
  # package an app depends on is built with it: analytics-api's @adtrack/dashboard (its `vite build`, the
  # static files analytics-api serves at /dashboard/), which `deploy` below then carries in node_modules.
  (cd "$2" && pnpm --filter-prod "$pkg..." run build)
}

deploy() { # <app> <work> <out>
  pkg=$(package_name "$1" "$2")
  [ ! -e "$3" ] || die "$3 already exists"
  say "pnpm deploy --prod $pkg -> $3"
  (cd "$2" && pnpm --filter "$pkg" deploy --prod --legacy --ignore-scripts "$3")
  [ -f "$3/dist/server.js" ] || die "$3/dist/server.js is missing after the deploy"
  # pnpm leaves a link from its hoisted folder back to the workspace package; the output must stand alone.
  out=$(cd "$3" && pwd -P)
  find "$out" -type l | while IFS= read -r link; do
    target=$(readlink -f "$link" || true)
    case "$target" in
      "$out"/*) ;;
      *) rm -f "$link" ;;
    esac
  done
}

all() { # <app> <out> [<repo>]
  repo=$(cd "${3:-$(dirname "$0")/..}" && pwd -P)
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/build-service.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # The same steps, in the same order, as deploy/Dockerfile's build stages.
  prune "$1" "$repo" "$tmp/pruned"
  mkdir "$tmp/work"
  cp -R "$tmp/pruned/json/." "$tmp/work/"
  install "$tmp/work"
  cp -R "$tmp/pruned/full/." "$tmp/work/"
  build "$1" "$tmp/work"
  deploy "$1" "$tmp/work" "$2"
}

[ $# -ge 1 ] || die 'usage: build-service.sh versions|tools|prune|install|build|deploy|all ... (see the header)'
phase=$1
shift
case "$phase" in
  versions | tools) [ $# -eq 1 ] || die "usage: $phase <repo>" ;;
  prune) [ $# -eq 3 ] || die 'usage: prune <app> <repo> <pruned>' ;;
  install) [ $# -eq 1 ] || die 'usage: install <work>' ;;
  build) [ $# -eq 2 ] || die 'usage: build <app> <work>' ;;
  deploy) [ $# -eq 3 ] || die 'usage: deploy <app> <work> <out>' ;;
  all) [ $# -ge 2 ] && [ $# -le 3 ] || die 'usage: all <app> <out> [<repo>]' ;;
  *) die "unknown phase '$phase'" ;;
esac
"$phase" "$@"
