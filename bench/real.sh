#!/usr/bin/env bash
# Real load benchmark: serves each design on loopback and drives it with wrk (apt-get install
# wrk): a read (GET /products/7) and the checkout loop of bench/checkout.lua. Prints wrk's
# throughput and p50/p99 per design. Service URLs, if given, go to `scalelab serve` for the
# designs that use them (serve refuses a flag its design would ignore: Redis and NATS on
# vertical, NATS on horizontal).
#   cargo xtask real && bash bench/real.sh
#   bash bench/real.sh --postgres-url postgres://postgres@127.0.0.1:5432 --redis-url redis://127.0.0.1:6379 --nats-url nats://127.0.0.1:4222
# Each run uses a fresh data directory (and, with PostgreSQL, drops nothing: each design's shop
# is named after its data directory, so its databases are scalelab_<design>* on that server).
# The machine's other load shows in the figures: note it.
set -euo pipefail
postgres=() redis=() nats=()
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres-url) postgres=(--postgres-url "$2"); shift 2 ;;
    --redis-url) redis=(--redis-url "$2"); shift 2 ;;
    --nats-url) nats=(--nats-url "$2"); shift 2 ;;
    *) echo "unknown argument $1: give --postgres-url, --redis-url or --nats-url" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
bin=target/real/debug/scalelab
[ -x "$bin" ] || { echo "build it first: cargo xtask real" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
port=${SCALELAB_BENCH_PORT:-18200}
seconds=${SCALELAB_BENCH_SECONDS:-10}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
for design in vertical horizontal queued sharded; do
  services=("${postgres[@]}")
  [ "$design" = vertical ] || services+=("${redis[@]}")
  case "$design" in queued | sharded) services+=("${nats[@]}") ;; esac
  "$bin" serve --design "$design" --port "$port" --data-dir "$data/$design" --stock 4000000000 "${services[@]}" \
    2>"$data/$design.log" &
  pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
  echo "== $design: GET /products/7"
  wrk -t2 -c16 -d"${seconds}s" --latency "http://127.0.0.1:$port/products/7" |
    grep -E "Requests/sec| 50%| 99%|Non-2xx|Socket errors"
  echo "== $design: login, add to cart, checkout (bench/checkout.lua)"
  # One wrk thread per connection: the script's customer, cookie and cart are per thread, so
  # with fewer threads several connections would share one cart and race its checkouts.
  wrk -t16 -c16 -d"${seconds}s" --latency -s bench/checkout.lua "http://127.0.0.1:$port" |
    grep -E "Requests/sec| 50%| 99%|Socket errors|orders placed"
  kill -TERM "$pid"
  wait "$pid" || { echo "serve exited with $?:"; cat "$data/$design.log"; }
done
