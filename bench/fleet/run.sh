#!/usr/bin/env bash
# bench/fleet: edgeforge sim and an MQTT.js peer side by side against the same
# local broker (`edgeforge broker`), the same identities (one PKI, each device
# its own TLS certificate and signing key), the same payload size and rate.
# Prints per side: time to connect all, CPU per PUBACKed message and RSS per
# device in the steady window, achieved vs scheduled rate, p50/p99 latency and
# loss; then the ratios (edgeforge / peer). Not a unit test: a measurement.
#
# usage: bench/fleet/run.sh [BUILD_DIR] [DEVICES] [INTERVAL_MS] [DURATION_S]
#   e.g. bench/fleet/run.sh build/ci 2000 1000 60     # 2,000 devices at 1 msg/s
#        bench/fleet/run.sh build/ci 10000 10000 300  # 10,000 at one per 10 s
# Extra arguments for edgeforge sim go in EDGEFORGE_SIM_ARGS (e.g. "--workers 2").
#
# What each side measures (say so when quoting): the peer's latency is
# publish -> PUBACK and it verifies nothing; edgeforge's is publish -> its
# in-process verifier's receive, and its CPU includes verifying every
# signature and running each device's sensor physics and pipeline.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/ci}" && pwd)
n=${2:-200}
interval_ms=${3:-1000}
duration_s=${4:-30}
payload_bytes=${PAYLOAD_BYTES:-}
work=$(mktemp -d)
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

if [ ! -d "$here/node_modules/mqtt" ]; then
  command -v npm >/dev/null || { echo "bench/fleet: needs node and npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
  (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
fi

t=$(date +%s.%N)
"$build/edgeforge" certs init --dir "$work/pki" >/dev/null
"$build/edgeforge" certs devices --dir "$work/pki" --count "$n" >/dev/null
echo "identities: $n issued in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
"$build/edgeforge" broker --certs "$work/pki" --work "$work/broker" >"$work/broker.out" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do grep -q 'ssl://' "$work/broker.out" && break; sleep 0.1; done
uri=$(grep -o 'ssl://[^ ]*' "$work/broker.out" | head -1)
[ -n "$uri" ] || { cat "$work/broker.out"; exit 1; }

ticks=$(getconf CLK_TCK)
cpu_s() { awk -v t="$ticks" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- edgeforge sim ---------------------------------------------------------
# The same payload size as the sim's telemetry unless PAYLOAD_BYTES says.
ef_log="$work/sim.out"
mkfifo "$work/sim.fifo"
# shellcheck disable=SC2086
stdbuf -oL "$build/edgeforge" sim --broker "$uri" --certs "$work/pki" --devices "$n" --interval "${interval_ms}ms" \
  --duration "${duration_s}s" --work "$work/sim" ${EDGEFORGE_SIM_ARGS:-} >"$work/sim.fifo" 2>&1 &
sim_pid=$!
# The steady window: from "devices: ... connected" (the measured window
# starts then) for --duration; CPU and RSS are read at both ends while the
# process runs (its summary only arrives after the drain).
cpu0=
while IFS= read -r line; do
  echo "$line" >>"$ef_log"
  case "$line" in
    devices:*connected\ in*)
      cpu0=$(cpu_s "$sim_pid")
      (sleep "$duration_s"; echo "$(cpu_s "$sim_pid") $(rss_kb "$sim_pid")" >"$work/steady_end") &
      ;;
  esac
done <"$work/sim.fifo"
read -r cpu1 rss <"$work/steady_end" || true
wait "$sim_pid" && sim_rc=0 || sim_rc=$?
grep -E '^(devices:|summary|  connected|  rate|  published|  lost|  invalid|  latency|  FAIL|result)' "$ef_log" | sed 's/^/  sim| /'
ef_connect=$(sed -n 's/^devices: .* connected in \([0-9.]*\) s.*/\1/p' "$ef_log" | head -1)
ef_achieved_rate=$(sed -n 's/^  rate .*achieved \([0-9,.]*\) msg\/s.*/\1/p' "$ef_log" | tr -d ,)
ef_sched_rate=$(sed -n 's/^  rate *scheduled \([0-9,.]*\) msg\/s.*/\1/p' "$ef_log" | tr -d ,)
ef_achieved=$(sed -n 's/^  rate .*(\([0-9]*\) of \([0-9]*\) in.*/\1/p' "$ef_log")
ef_scheduled=$(sed -n 's/^  rate .*(\([0-9]*\) of \([0-9]*\) in.*/\2/p' "$ef_log")
ef_lost=$(sed -n 's/^  lost *\([0-9]*\).*/\1/p' "$ef_log")
ef_p50=$(sed -n 's/^  latency *p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1/p' "$ef_log")
ef_p99=$(sed -n 's/^  latency *p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\2/p' "$ef_log")
ef_cpu_us=$(awk -v a="$cpu0" -v b="$cpu1" -v m="$ef_achieved" 'BEGIN{ if (m>0) printf "%.1f", (b-a)*1e6/m; else print "-" }')
ef_rss=$(awk -v r="$rss" -v n="$n" 'BEGIN{ printf "%.1f", r/n }')

# --- MQTT.js peer -----------------------------------------------------------
if [ -z "$payload_bytes" ]; then
  # The size of the sim's telemetry: the verifier's capture is not kept, so
  # use the board's typical window (measured: factory ~560 B, traffic ~520 B).
  payload_bytes=560
fi
peer_line=$(node "$here/peer.js" "$work/pki" "$uri" "$n" "$interval_ms" "$duration_s" "$payload_bytes" 2>"$work/peer.err") &&
  peer_rc=0 || peer_rc=$?
echo "  peer| $peer_line"
field() { echo "$peer_line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
pj_connect=$(field connect_s); pj_cpu=$(field cpu_us_per_msg); pj_rss=$(field rss_kb_per_device)
pj_rate=$(field achieved_per_s); pj_p50=$(field p50_ms); pj_p99=$(field p99_ms)
pj_lost=$(( $(field published) - $(field acked) ))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a!="" && a!="-" && b>0) printf "%.2f", a/b; else print "-" }'; }
echo
echo "bench/fleet: $n devices, one message per $interval_ms ms each, ${duration_s} s, broker $uri"
printf '%-34s %12s %12s %8s\n' metric mqtt.js edgeforge ratio
printf '%-34s %12s %12s %8s\n' "time to connect all (s)" "$pj_connect" "$ef_connect" "$(ratio "$ef_connect" "$pj_connect")"
printf '%-34s %12s %12s %8s\n' "CPU per message, steady (us)" "$pj_cpu" "$ef_cpu_us" "$(ratio "$ef_cpu_us" "$pj_cpu")"
printf '%-34s %12s %12s %8s\n' "RSS per device (KB)" "$pj_rss" "$ef_rss" "$(ratio "$ef_rss" "$pj_rss")"
printf '%-34s %12s %12s\n' "scheduled msg/s" "$(awk -v n="$n" -v i="$interval_ms" 'BEGIN{printf "%.1f", n*1000/i}')" "$ef_sched_rate"
printf '%-34s %12s %12s %8s\n' "achieved msg/s" "$pj_rate" "$ef_achieved_rate" "$(ratio "$ef_achieved_rate" "$pj_rate")"
printf '%-34s %12s %12s\n' "latency p50 / p99 (ms)" "$pj_p50/$pj_p99" "$ef_p50/$ef_p99"
printf '%-34s %12s %12s\n' "lost" "$pj_lost" "${ef_lost:--}"
echo "(peer latency: publish -> PUBACK; edgeforge: publish -> verifier receive, verifier in the same process)"
[ "$sim_rc" -eq 0 ] && [ "$peer_rc" -eq 0 ]
