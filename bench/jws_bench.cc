// ES256 detached JWS (firmware/telemetry/jws.h): Sign and Verify of a ~300-byte
// telemetry payload, mbedTLS and OpenSSL backends side by side in one run.
// After the usual table it prints the OpenSSL/mbedTLS throughput ratios, which
// is the figure to quote (STYLE.md: a ratio to a peer measured in the same run).
//
//   cmake --build build/dev --target edgeforge_jws_bench && build/dev/bench/edgeforge_jws_bench
#include <benchmark/benchmark.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "firmware/telemetry/jws.h"

namespace {

using edgeforge::jws::Backend;
using edgeforge::jws::BackendName;

// 300 bytes, shaped like the device telemetry (DESIGN.md "Signed telemetry").
const std::string kPayload = R"({"dev":"thing-000123","seq":1048576,"boot":17,"ts":1718000000123,"fw":"0.1.0",)"
                             R"("env":{"t":21.37,"rh":48.21,"p":101325.42},"pwr":{"v":3.297,"ma":12.4,"soc":87},)"
                             R"("net":{"rssi":-61,"rtt_ms":18,"retx":0},"acc":{"x":0.012,"y":-0.004,"z":0.998},)"
                             R"("flags":["ok"],"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})";

std::string GenerateP256Pem() {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_pk_context pk;
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_pk_init(&pk);
  std::vector<unsigned char> buf(2048);
  if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0) != 0 ||
      mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, &drbg) != 0 ||
      mbedtls_pk_write_key_pem(&pk, buf.data(), buf.size()) != 0) {
    std::fprintf(stderr, "jws_bench: key generation failed\n");
    std::exit(1);
  }
  mbedtls_pk_free(&pk);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  return reinterpret_cast<const char*>(buf.data());
}

std::unique_ptr<edgeforge::jws::Signer> MustSigner(Backend backend, const std::string& pem) {
  auto signer = edgeforge::jws::MakeSigner(backend, pem);
  if (!signer.ok()) {
    std::fprintf(stderr, "jws_bench: %s\n", signer.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(signer).value();
}

void Sign(benchmark::State& state, Backend backend, const std::string& pem) {
  auto signer = MustSigner(backend, pem);
  for (auto _ : state) {
    auto jws = signer->Sign(kPayload);
    if (!jws.ok()) state.SkipWithError(jws.status().ToString().c_str());
    benchmark::DoNotOptimize(jws);
  }
  state.SetItemsProcessed(state.iterations());
}

// keys.size() == 1: one device's stream; more: interleaved devices, so a
// backend that caches per-key state pays its rebuild on every message.
void Verify(benchmark::State& state, Backend backend, const std::vector<std::string>* pems) {
  struct Signed {
    std::string jws;
    edgeforge::jws::EcP256PublicKey key;
  };
  std::vector<Signed> msgs;
  for (const std::string& pem : *pems) {
    auto signer = MustSigner(Backend::kMbedTls, pem);
    msgs.push_back({signer->Sign(kPayload).value(), signer->public_key()});
  }
  auto verifier = edgeforge::jws::MakeVerifier(backend);
  size_t i = 0;
  for (auto _ : state) {
    const Signed& m = msgs[i];
    i = i + 1 == msgs.size() ? 0 : i + 1;
    edgeforge::Status st = verifier->Verify(m.jws, kPayload, m.key);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

// The backend-independent per-message work a Verify does before any crypto.
void ParseHeader(benchmark::State& state, const std::string& pem) {
  const std::string jws = MustSigner(Backend::kMbedTls, pem)->Sign(kPayload).value();
  for (auto _ : state) {
    auto header = edgeforge::jws::ParseHeader(jws);
    benchmark::DoNotOptimize(header);
  }
  state.SetItemsProcessed(state.iterations());
}

/// Console output as usual, plus items/s per benchmark name for the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (run.error_occurred || it == run.counters.end()) continue;
      // With --benchmark_repetitions the median (reported last) wins.
      if (run.run_type == Run::RT_Iteration || run.aggregate_name == "median") {
        rates_[run.run_name.str()] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintRatio(const std::string& op) const {
    auto m = rates_.find("ES256/" + op + "/mbedtls");
    auto o = rates_.find("ES256/" + op + "/openssl");
    if (m == rates_.end() || o == rates_.end() || m->second <= 0) return;
    std::printf("%-26s mbedtls %10.0f/s  openssl %10.0f/s  openssl/mbedtls %6.1fx\n", op.c_str(), m->second, o->second,
                o->second / m->second);
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  static const std::string pem = GenerateP256Pem();
  static std::vector<std::string> one_key = {pem};
  static std::vector<std::string> many_keys;
  for (int i = 0; i < 64; ++i) many_keys.push_back(GenerateP256Pem());

  for (Backend b : {Backend::kMbedTls, Backend::kOpenSsl}) {
    benchmark::RegisterBenchmark((std::string("ES256/Sign/") + BackendName(b)).c_str(), Sign, b, pem);
  }
  for (Backend b : {Backend::kMbedTls, Backend::kOpenSsl}) {
    benchmark::RegisterBenchmark((std::string("ES256/Verify/") + BackendName(b)).c_str(), Verify, b, &one_key);
  }
  for (Backend b : {Backend::kMbedTls, Backend::kOpenSsl}) {
    benchmark::RegisterBenchmark((std::string("ES256/Verify64Keys/") + BackendName(b)).c_str(), Verify, b, &many_keys);
  }

  benchmark::RegisterBenchmark("JWS/ParseHeader", ParseHeader, pem);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\nES256, %zu-byte payload, one thread:\n", kPayload.size());
  for (const char* op : {"Sign", "Verify", "Verify64Keys"}) reporter.PrintRatio(op);
  benchmark::Shutdown();
  return 0;
}
