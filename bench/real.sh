#!/usr/bin/env bash
# Real load benchmark: serves each design on loopback and drives it with wrk (apt-get install
# wrk): a read (GET /products/7) and the checkout loop of bench/checkout.lua. Prints wrk's
# throughput and p50/p99 per design. Extra arguments go to `scalelab serve` (service URLs).
#   cargo xtask real && bash bench/real.sh
#   bash bench/real.sh --postgres-url postgres://postgres@127.0.0.1:5432 --redis-url redis://127.0.0.1:6379 --nats-url nats://127.0.0.1:4222
# Each run uses a fresh data directory (and, with PostgreSQL, drops nothing: the databases are
# scalelab_* on that server). The machine's other load shows in the figures: note it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/real/debug/scalelab
[ -x "$bin" ] || { echo "build it first: cargo xtask real" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 2; }
port=${SCALELAB_BENCH_PORT:-18200}
seconds=${SCALELAB_BENCH_SECONDS:-10}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
for design in vertical horizontal queued sharded; do
  "$bin" serve --design "$design" --port "$port" --data-dir "$data/$design" --stock 4000000000 "$@" \
    2>"$data/$design.log" &
  pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
  echo "== $design: GET /products/7"
  wrk -t2 -c16 -d"${seconds}s" --latency "http://127.0.0.1:$port/products/7" |
    grep -E "Requests/sec| 50%| 99%|Non-2xx|Socket errors"
  echo "== $design: login, add to cart, checkout (bench/checkout.lua)"
  wrk -t2 -c16 -d"${seconds}s" --latency -s bench/checkout.lua "http://127.0.0.1:$port" |
    grep -E "Requests/sec| 50%| 99%|Socket errors|orders placed"
  kill -TERM "$pid"
  wait "$pid" || { echo "serve exited with $?:"; cat "$data/$design.log"; }
done
