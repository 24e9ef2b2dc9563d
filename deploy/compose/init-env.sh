#!/usr/bin/env bash
# Writes the credentials docker-compose.yml needs into .env (or the file given), each one only if the file
# does not set it yet: run it once before the first `docker compose up`, again after adding a variable;
# it never changes a value already there. PostgreSQL keeps the password it was first started with (in its
# volume): after changing POSTGRES_PASSWORD, `docker compose down -v` to start afresh.
#
#   deploy/compose/init-env.sh            # .env beside docker-compose.yml
#   deploy/compose/init-env.sh other.env  # elsewhere (docker compose --env-file other.env ...)
set -euo pipefail

file=${1:-"$(cd "$(dirname "$0")/../.." && pwd)/.env"}
touch "$file"
chmod 600 "$file"

# 24 random bytes as hex: safe inside a URL (DATABASE_URL) and in YAML without quoting.
random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

add() {
  local name=$1 value=$2
  if grep -q "^${name}=" "$file"; then
    echo "init-env: ${name} already set in ${file}"
  else
    printf '%s=%s\n' "$name" "$value" >>"$file"
    echo "init-env: generated ${name} in ${file}"
  fi
}

add POSTGRES_PASSWORD "$(random)"
add GRAFANA_ADMIN_PASSWORD "$(random)"
# id:secret (docs/tracking.md): the key that signs and checks the impression tokens in VAST tags.
add TRACKING_TOKEN_KEYS "compose:$(random)"
