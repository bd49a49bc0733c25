#!/usr/bin/env bash
# Device identity issuing: `edgeforge certs devices` (2 threads: OpenSSL keys,
# mbedTLS certificates) vs the
# peer DESIGN.md names, an openssl CLI loop (keygen + CSR + sign per device), in
# the same run on the same disk. Prints devices/s for each and the ratio.
# usage: bench/certs_bench.sh [BUILD_DIR] [N_EDGEFORGE] [N_OPENSSL]
set -euo pipefail
build=${1:-build/dev}
n_ef=${2:-1000}
n_ossl=${3:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$build/edgeforge" certs init --dir "$work/ef" >/dev/null
t0=$(date +%s.%N)
"$build/edgeforge" certs devices --dir "$work/ef" --count "$n_ef" --threads 2 >/dev/null
t1=$(date +%s.%N)

mkdir -p "$work/ossl"
cd "$work/ossl"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -new -x509 -key ca.key -subj "/CN=bench CA" -days 3650 -out ca.crt 2>/dev/null
t2=$(date +%s.%N)
for i in $(seq 1 "$n_ossl"); do
  openssl ecparam -name prime256v1 -genkey -noout -out "d$i.key" 2>/dev/null       # TLS key
  openssl ecparam -name prime256v1 -genkey -noout -out "s$i.key" 2>/dev/null       # signing key
  openssl req -new -key "d$i.key" -subj "/CN=edge-$i" -out "d$i.csr" 2>/dev/null
  openssl x509 -req -in "d$i.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -out "d$i.crt" 2>/dev/null
done
t3=$(date +%s.%N)

awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v ne="$n_ef" -v no="$n_ossl" 'BEGIN {
  ef = ne / (b - a); os = no / (d - c);
  printf "edgeforge certs devices (2 threads):          %d devices in %.2f s = %.0f devices/s\n", ne, b - a, ef;
  printf "openssl CLI loop (peer):                      %d devices in %.2f s = %.1f devices/s\n", no, d - c, os;
  printf "ratio edgeforge/openssl-cli: %.0fx\n", ef / os }'
