// certs::CheckDeviceIdentity per identity (the simulator may check 10,000 at
// start), next to its two crypto steps alone and to the peer it guards: the
// OpenSSL SSL_CTX setup Paho C does per client (load CA, certificate chain and
// key, SSL_CTX_check_private_key), in the same run on the same files.
// Identities are cycled over 64 devices so no per-key cache flatters a figure.
//
//   cmake --build build/ci --target edgeforge_identity_check_bench && build/ci/bench/edgeforge_identity_check_bench
#include <benchmark/benchmark.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "certs/identity_check.h"
#include "certs/pki.h"

namespace {

using edgeforge::certs::IdentityFiles;

constexpr int kDevices = 64;

struct Fixture {
  std::string pki;
  std::vector<std::string> things;
  std::vector<IdentityFiles> files;
};

const Fixture& Pki() {
  static const Fixture f = [] {
    Fixture x;
    std::string t = "/tmp/edgeforge-identity-benchXXXXXX";
    x.pki = std::string(mkdtemp(t.data())) + "/pki";
    x.things = edgeforge::certs::FleetDeviceNames("bench-", kDevices);
    if (!edgeforge::certs::EnsurePki(x.pki, x.things).ok()) std::abort();
    for (const auto& thing : x.things) {
      const auto p = edgeforge::certs::PathsFor(x.pki, thing);
      x.files.push_back({x.pki + "/ca.crt", p.cert, p.tls_key, p.sign_key});
    }
    return x;
  }();
  return f;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void BM_CheckDeviceIdentity(benchmark::State& state) {
  const Fixture& f = Pki();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ % f.files.size();
    auto r = edgeforge::certs::CheckDeviceIdentity(f.files[k], f.things[k], now);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CheckDeviceIdentity);

void BM_CheckDeviceIdentityFast(benchmark::State& state) {
  const Fixture& f = Pki();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ % f.files.size();
    auto r = edgeforge::certs::CheckDeviceIdentity(f.files[k], f.things[k], now,
                                                   edgeforge::certs::IdentityCheckDepth::kFast);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CheckDeviceIdentityFast);

// What the simulator would call at start: the whole fixture (64 identities)
// per iteration; items/s is identities per second.
void BM_CheckFleetIdentitiesFast(benchmark::State& state) {
  const Fixture& f = Pki();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (auto _ : state) {
    const edgeforge::Status s = edgeforge::certs::CheckFleetIdentities(f.pki, f.things, now);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(f.things.size()));
}
BENCHMARK(BM_CheckFleetIdentitiesFast);

// The scalar multiplication that proves the TLS key is the certificate's.
void BM_KeyPairCheckOnly(benchmark::State& state) {
  const Fixture& f = Pki();
  std::vector<mbedtls_x509_crt> crts(f.files.size());
  std::vector<mbedtls_pk_context> keys(f.files.size());
  for (size_t k = 0; k < f.files.size(); ++k) {
    mbedtls_x509_crt_init(&crts[k]);
    mbedtls_pk_init(&keys[k]);
    const std::string c = ReadAll(f.files[k].cert), key = ReadAll(f.files[k].tls_key);
    if (mbedtls_x509_crt_parse(&crts[k], reinterpret_cast<const unsigned char*>(c.c_str()), c.size() + 1) != 0 ||
        mbedtls_pk_parse_key(&keys[k], reinterpret_cast<const unsigned char*>(key.c_str()), key.size() + 1, nullptr,
                             0) != 0) {
      std::abort();
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ % f.files.size();
    benchmark::DoNotOptimize(mbedtls_pk_check_pair(&crts[k].pk, &keys[k]));
  }
  for (size_t k = 0; k < f.files.size(); ++k) {
    mbedtls_x509_crt_free(&crts[k]);
    mbedtls_pk_free(&keys[k]);
  }
}
BENCHMARK(BM_KeyPairCheckOnly);

// The ECDSA verification that proves the CA signed the certificate.
void BM_ChainVerifyOnly(benchmark::State& state) {
  const Fixture& f = Pki();
  mbedtls_x509_crt ca;
  mbedtls_x509_crt_init(&ca);
  const std::string ca_pem = ReadAll(f.pki + "/ca.crt");
  if (mbedtls_x509_crt_parse(&ca, reinterpret_cast<const unsigned char*>(ca_pem.c_str()), ca_pem.size() + 1) != 0) {
    std::abort();
  }
  std::vector<mbedtls_x509_crt> crts(f.files.size());
  for (size_t k = 0; k < f.files.size(); ++k) {
    mbedtls_x509_crt_init(&crts[k]);
    const std::string c = ReadAll(f.files[k].cert);
    if (mbedtls_x509_crt_parse(&crts[k], reinterpret_cast<const unsigned char*>(c.c_str()), c.size() + 1) != 0) {
      std::abort();
    }
  }
  size_t i = 0;
  for (auto _ : state) {
    uint32_t flags = 0;
    benchmark::DoNotOptimize(
        mbedtls_x509_crt_verify(&crts[i++ % crts.size()], &ca, nullptr, nullptr, &flags, nullptr, nullptr));
  }
  for (auto& c : crts) mbedtls_x509_crt_free(&c);
  mbedtls_x509_crt_free(&ca);
}
BENCHMARK(BM_ChainVerifyOnly);

// Peer: what Paho C 1.3 does with the same files for every client it creates
// (SSLSocket_createContext: CA, certificate chain, key, and OpenSSL's own
// key/certificate match check).
void BM_PeerOpenSslCtxSetup(benchmark::State& state) {
  const Fixture& f = Pki();
  size_t i = 0;
  for (auto _ : state) {
    const IdentityFiles& id = f.files[i++ % f.files.size()];
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    const bool ok = SSL_CTX_load_verify_locations(ctx, id.ca.c_str(), nullptr) == 1 &&
                    SSL_CTX_use_certificate_chain_file(ctx, id.cert.c_str()) == 1 &&
                    SSL_CTX_use_PrivateKey_file(ctx, id.tls_key.c_str(), SSL_FILETYPE_PEM) == 1 &&
                    SSL_CTX_check_private_key(ctx) == 1;
    SSL_CTX_free(ctx);
    if (!ok) state.SkipWithError("OpenSSL refused the identity");
  }
}
BENCHMARK(BM_PeerOpenSslCtxSetup);

}  // namespace

BENCHMARK_MAIN();
