#!/usr/bin/env bash
# The fleet's event-loop transport vs Paho (the peer), side by side against one
# local broker (`edgeforge broker`), N sessions each with its own certificate,
# one QoS 1 publish (600-byte payload + a JWS-sized user property) per session
# per second: time to connect all, RSS per session, CPU per PUBACKed message.
# usage: bench/transport_bench.sh [BUILD_DIR] [N] [SECONDS]
set -euo pipefail
build=${1:-build/ci}
n=${2:-2000}
secs=${3:-20}
work=$(mktemp -d)
trap 'kill $broker_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)"
"$build/edgeforge" certs init --dir "$work/pki" >/dev/null
"$build/edgeforge" certs devices --dir "$work/pki" --count "$n" >/dev/null
"$build/edgeforge" broker --certs "$work/pki" --work "$work/broker" >"$work/broker.out" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do grep -q 'ssl://' "$work/broker.out" && break; sleep 0.1; done
uri=$(grep -o 'ssl://[^ ]*' "$work/broker.out" | head -1)
run() { "$build/bench/edgeforge_transport_bench" "$1" "$work/pki" "$uri" "$n" "$secs"; }
mosq=$(run mosq)
paho=$(run paho)
echo "$mosq"
echo "$paho"
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
printf '%-22s %12s %12s %8s\n' metric event-loop paho ratio
for m in connect_s rss_kb_per_session cpu_us_per_msg; do
  a=$(field "$mosq" $m); b=$(field "$paho" $m)
  printf '%-22s %12s %12s %8s\n' "$m" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }')"
done
printf '%-22s %12s %12s\n' acked/scheduled "$(field "$mosq" acked)/$(field "$mosq" scheduled)" "$(field "$paho" acked)/$(field "$paho" scheduled)"
