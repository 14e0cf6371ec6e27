// SPDX-License-Identifier: Apache-2.0
// TPM costs next to their software floor, in the same run (docs/benchmarks.md, "TPM"): one
// signature by the TPM-resident CA key (TpmSigningKey::sign: connect, derive the SRK, load,
// sign, flush) against an ECDSA P-256 signature by OpenSSL; one quote on an open connection
// (TpmDevice::quote: AK under the EK, quote of 3 PCRs, flush); and one node measurement
// (measureNode: connect, EK, AK under the EK, quote, PCR read, verification). Needs a TPM:
//   LANYARD_BENCH_TCTI=swtpm:host=127.0.0.1,port=2321 ./build/bench/tpm_bench
// (tests/integration/tpm_test.py shows how to start swtpm with EK certificates).
#include <cstdlib>
#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>

#include "attestors/tpm/node_attestor.h"
#include "attestors/tpm/tpm_device.h"
#include "svid/key.h"
#include "svid/tpm_key.h"

namespace {

using namespace lanyard;

std::string tcti() {
  const char* t = std::getenv("LANYARD_BENCH_TCTI");
  return t == nullptr ? std::string() : std::string(t);
}

const std::string kData(200, 'x');  // about a TBSCertificate's worth of hashing

void BM_OpenSslSign(benchmark::State& state) {  // the floor
  auto key = *svid::generateKey(svid::KeyType::EcP256);
  for (auto _ : state) {
    ossl::UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
    unsigned char sig[80];
    size_t len = sizeof(sig);
    EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get());
    EVP_DigestSign(md.get(), sig, &len, reinterpret_cast<const unsigned char*>(kData.data()),
                   kData.size());
    benchmark::DoNotOptimize(len);
  }
}
BENCHMARK(BM_OpenSslSign)->Unit(benchmark::kMillisecond);

void BM_TpmSign(benchmark::State& state) {
  if (tcti().empty()) {
    state.SkipWithError("set LANYARD_BENCH_TCTI");
    return;
  }
  const std::string blob = std::filesystem::temp_directory_path() / "lanyard-bench.tpmkey";
  std::filesystem::remove(blob);
  auto key = svid::TpmSigningKey::loadOrCreate(tcti(), blob);
  if (!key) {
    state.SkipWithError(key.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    auto sig = (*key)->sign(kData);
    if (!sig) {
      state.SkipWithError(sig.error().message.c_str());
      break;
    }
  }
  std::filesystem::remove(blob);
}
BENCHMARK(BM_TpmSign)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_TpmQuote(benchmark::State& state) {
  if (tcti().empty()) {
    state.SkipWithError("set LANYARD_BENCH_TCTI");
    return;
  }
  auto device = attestors::tpm::TpmDevice::open(tcti());
  if (!device) {
    state.SkipWithError(device.error().message.c_str());
    return;
  }
  const std::string nonce(32, 'n');
  for (auto _ : state) {
    auto q = (*device)->quote(attestors::tpm::kDefaultEkHandle, {0, 7, 16}, nonce);
    if (!q) {
      state.SkipWithError(q.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(q->quote);
  }
}
BENCHMARK(BM_TpmQuote)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_TpmMeasureNode(benchmark::State& state) {
  if (tcti().empty()) {
    state.SkipWithError("set LANYARD_BENCH_TCTI");
    return;
  }
  attestors::tpm::Settings s{.tcti = tcti(), .pcrs = {0, 7, 16}};
  for (auto _ : state) {
    auto m = attestors::tpm::measureNode(s);
    if (!m) {
      state.SkipWithError(m.error().message.c_str());
      break;
    }
  }
}
BENCHMARK(BM_TpmMeasureNode)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
