#!/usr/bin/env bash
# Footprint of edgeforge-device per architecture: stripped binary size,
# steady RSS and CPU per message at one message per second, on simulated
# sensors against the local broker, beside a peer in the same run.
#
#   bench/footprint.sh [--seconds N] [ARCH...]    ARCH: amd64 (default), arm64, armhf
#
# amd64 is this build's binary (build/ci). arm64 and armhf are the cross
# builds (build/arm64, build/armhf: scripts/test --target ...) run under
# qemu-user: their RSS and CPU are the emulator's and are labelled so;
# emulated time is not device time. The peer is mosquitto_pub -l (the same
# TLS identity, one persistent connection, one line a second of the
# device's mean telemetry size): the smallest MQTT-over-TLS publisher
# Debian has, so edgeforge's cost is read as a ratio to it (native only).
#
# Prints one table row per architecture (docs/performance.md, "Footprint").
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
archs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    amd64 | arm64 | armhf) archs+=("$1"); shift ;;
    *) echo "footprint: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#archs[@]} -eq 0 ] && archs=(amd64)
command -v mosquitto_pub >/dev/null || { echo "footprint: the peer needs mosquitto_pub (apt-get install mosquitto-clients)" >&2; exit 1; }

host=build/ci/edgeforge
[ -x "$host" ] || { echo "footprint: build the host tools first (scripts/test, or cmake --build --preset ci)" >&2; exit 1; }
work=$(mktemp -d /tmp/edgeforge-footprint.XXXXXX)
broker_pid=""
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The local broker and one identity per architecture.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$host" broker --certs "$work/pki" --work "$work/broker" --port "$port" >"$work/broker.out" 2>&1 &
broker_pid=$!
for _ in $(seq 200); do grep -q "^broker: ssl://" "$work/broker.out" 2>/dev/null && break; sleep 0.1; done
grep -q "^broker: ssl://" "$work/broker.out" || { echo "footprint: the broker did not start:" >&2; cat "$work/broker.out" >&2; exit 1; }
"$host" certs devices --dir "$work/pki" --names fp-amd64,fp-arm64,fp-armhf,fp-peer >/dev/null

# A factory node reporting every second.
python3 - "$work/board.json" <<'EOF'
import json, sys
b = json.load(open("boards/factory-node.json"))
b["report_ms"] = 1000
json.dump(b, open(sys.argv[1], "w"))
EOF

# cpu_ns PID: CPU time of all of a process's threads so far, in ns
# (schedstat: clock ticks are too coarse for a publisher idle 99 % of the time).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

printf '%-7s %-9s %12s %10s %14s %s\n' arch run "stripped" "RSS" "CPU/message" "(messages in the steady window)"
for arch in "${archs[@]}"; do
  case "$arch" in
    amd64) bin=build/ci/edgeforge-device emu=() strip=strip label=native ;;
    arm64) bin=build/arm64/edgeforge-device emu=(qemu-aarch64) strip=aarch64-linux-gnu-strip label="qemu-user (emulated)" ;;
    armhf) bin=build/armhf/edgeforge-device emu=(qemu-arm) strip=arm-linux-gnueabihf-strip label="qemu-user (emulated)" ;;
  esac
  [ -x "$bin" ] || { echo "footprint: $bin missing (scripts/test --target $arch builds it)" >&2; exit 1; }
  "$strip" -o "$work/stripped-$arch" "$bin"
  size=$(stat -c %s "$work/stripped-$arch")
  "${emu[@]}" "$bin" --board "$work/board.json" --sim-sensors --thing "fp-$arch" --broker "ssl://localhost:$port" \
    --certs "$work/pki" --state "$work/state-$arch" --sync batch >"$work/dev-$arch.out" 2>&1 &
  pid=$!
  # Steady window: from 20 s after the start (connected, first windows out) for $seconds.
  sleep 20
  t0=$(cpu_ns $pid)
  sleep "$seconds"
  t1=$(cpu_ns $pid)
  rss=$(rss_kb $pid)
  kill -TERM $pid
  wait $pid || true
  published=$(sed -n 's/.*stopped: published \([0-9]*\).*/\1/p' "$work/dev-$arch.out")
  [ -n "$published" ] && [ "$published" -gt 0 ] || { echo "footprint: $arch published nothing:" >&2; cat "$work/dev-$arch.out" >&2; exit 1; }
  # Messages in the window: one window a second (telemetry), alarms aside.
  msgs=$seconds
  cpu_ms=$(awk -v d=$((t1 - t0)) -v n="$msgs" 'BEGIN {printf "%.2f", d / 1e6 / n}')
  printf '%-7s %-9s %10.2f MB %7.1f MB %11s ms  (%s; %s published in all)\n' "$arch" edgeforge \
    "$(awk -v s="$size" 'BEGIN {print s / 1e6}')" "$(awk -v r="$rss" 'BEGIN {print r / 1024}')" "$cpu_ms" "$label" "$published"
  echo "$arch $size $rss $cpu_ms" >>"$work/rows"
done

# The peer (native): mosquitto_pub -l over the same TLS, one 1.2 KB line a second.
line=$(python3 -c 'print("x" * 1200)')
mosquitto_pub -l -q 1 -h localhost -p "$port" --cafile "$work/pki/ca.crt" \
  --cert "$work/pki/devices/fp-peer/device.crt" --key "$work/pki/devices/fp-peer/device.key" -i fp-peer \
  -t dt/edgeforge/site-1/fp-peer/telemetry 2>"$work/peer.err" < <(while true; do echo "$line"; sleep 1; done) &
peer=$!
sleep 20
t0=$(cpu_ns "$peer")
sleep "$seconds"
t1=$(cpu_ns "$peer")
rss=$(rss_kb "$peer")
kill "$peer" 2>/dev/null || true
size=$(stat -c %s "$(command -v mosquitto_pub)")
cpu_ms=$(awk -v d=$((t1 - t0)) -v n="$seconds" 'BEGIN {printf "%.2f", d / 1e6 / n}')
printf '%-7s %-9s %10.2f MB %7.1f MB %11s ms  (native; binary only: libmosquitto is a shared library)\n' amd64 \
  mosquitto_pub "$(awk -v s="$size" 'BEGIN {print s / 1e6}')" "$(awk -v r="$rss" 'BEGIN {print r / 1024}')" "$cpu_ms"
if grep -q '^amd64 ' "$work/rows"; then
  read -r _ esize erss ecpu < <(grep '^amd64 ' "$work/rows")
  awk -v er="$erss" -v pr="$rss" -v ec="$ecpu" -v pc="$cpu_ms" \
    'BEGIN {printf "ratio edgeforge-device / mosquitto_pub (amd64): RSS %.1fx, CPU per message %s\n", er / pr, (pc > 0 ? sprintf("%.1fx", ec / pc) : "n/a (peer below one tick)")}'
fi
