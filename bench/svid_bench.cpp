// SPDX-License-Identifier: Apache-2.0
// svid/ throughput against raw OpenSSL floors measured in the same run: P-256 keygen, sign
// and verify; X.509-SVID mint, JWT-SVID mint and JWT-SVID validate (docs/benchmarks.md).
#include <cstdio>
#include <map>
#include <string>

#include <benchmark/benchmark.h>

#include "common/log.h"
#include "svid/ca_certificate.h"
#include "svid/jwt_svid.h"
#include "svid/key.h"
#include "svid/x509_svid.h"

namespace lanyard::svid {
namespace {

const SysTime kNow = SystemClock::instance().now();
const std::string kMessage(300, 'm');  // about a TBS certificate or a JWS signing input

TrustDomain td() { return *TrustDomain::parse("example.org"); }
SpiffeId id() { return *SpiffeId::parse("spiffe://example.org/ns/prod/sa/web"); }

ossl::UniquePtr<EVP_PKEY> p256() { return *generateKey(KeyType::EcP256); }

std::string rawSign(EVP_MD_CTX* ctx, EVP_PKEY* key) {
  unsigned char sig[80];
  size_t len = sizeof(sig);
  EVP_MD_CTX_reset(ctx);
  if (EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key, nullptr) != 1 ||
      EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(kMessage.data()),
                     kMessage.size()) != 1) {
    std::abort();
  }
  return std::string(reinterpret_cast<char*>(sig), len);
}

// Floors: the cheapest way plain OpenSSL 3 does each operation (a reused keygen context).
void BM_Floor_P256Keygen(benchmark::State& state) {
  ossl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY_keygen_init(ctx.get());
  EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256");
  for (auto _ : state) {
    EVP_PKEY* k = nullptr;
    EVP_PKEY_generate(ctx.get(), &k);
    EVP_PKEY_free(k);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Floor_P256Sign(benchmark::State& state) {
  auto key = p256();
  ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  for (auto _ : state) {
    benchmark::DoNotOptimize(rawSign(ctx.get(), key.get()));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Floor_P256Verify(benchmark::State& state) {
  auto key = p256();
  ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  std::string sig = rawSign(ctx.get(), key.get());
  for (auto _ : state) {
    EVP_MD_CTX_reset(ctx.get());
    EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key.get(), nullptr);
    int ok =
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                         reinterpret_cast<const unsigned char*>(kMessage.data()), kMessage.size());
    if (ok != 1) {
      state.SkipWithError("verify failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_X509SvidMint(benchmark::State& state) {
  auto caKey = p256();
  CaCertParams p{td(), kNow - Seconds(60), kNow + Seconds(86400), "bench ca", -1};
  auto ca = *makeCaCertificate(p, caKey.get(), nullptr, caKey.get());
  auto issuer = *X509SvidIssuer::create(std::move(ca), std::move(caKey), {});
  X509SvidParams params{{"web.internal"}, Seconds(3600), KeyType::EcP256};
  SpiffeId sid = id();
  for (auto _ : state) {
    auto svid = issuer->mint(sid, params, kNow);
    if (!svid) {
      state.SkipWithError(svid.error().message.c_str());
      break;
    }
    // What the Workload API serves: the DER chain and the PKCS#8 key.
    benchmark::DoNotOptimize(svid->chainDer());
    benchmark::DoNotOptimize(svid->keyDer.str());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_JwtSvidMint(benchmark::State& state) {
  auto signer = *JwtSigner::create(p256());
  SpiffeId sid = id();
  std::vector<std::string> aud = {"spiffe://example.org/billing"};
  for (auto _ : state) {
    auto t = mintJwtSvid(signer, sid, aud, kNow, Seconds(300));
    if (!t) {
      state.SkipWithError(t.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(*t);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_JwtSvidValidate(benchmark::State& state) {
  auto key = p256();
  auto signer = *JwtSigner::create(ossl::upRef(key.get()));
  auto bundle = std::make_shared<Bundle>(td());
  (void)bundle->addJwtAuthority(signer.kid(), key.get());
  BundleMap bundles{{td(), bundle}};
  std::string token =
      *mintJwtSvid(signer, id(), {"spiffe://example.org/billing"}, kNow, Seconds(300));
  for (auto _ : state) {
    auto v = validateJwtSvid(token, bundles, "spiffe://example.org/billing", kNow);
    if (!v) {
      state.SkipWithError(v.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(v->subject);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Floor_P256Keygen);
BENCHMARK(BM_Floor_P256Sign);
BENCHMARK(BM_Floor_P256Verify);
BENCHMARK(BM_X509SvidMint);
BENCHMARK(BM_JwtSvidMint);
BENCHMARK(BM_JwtSvidValidate);

// Keeps each benchmark's items/s so the ratios can be printed after the table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) {
        continue;
      }
      // With --benchmark_repetitions the median is the figure; otherwise the single run.
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        rates[r.run_name.function_name] = it->second.value;
      } else if (r.run_type == Run::RT_Iteration && r.repetitions <= 1) {
        rates[r.benchmark_name()] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> rates;
};

int report(const std::map<std::string, double>& r) {
  auto get = [&](const char* n) {
    auto it = r.find(n);
    return it == r.end() ? 0.0 : it->second;
  };
  double keygen = get("BM_Floor_P256Keygen");
  double sign = get("BM_Floor_P256Sign");
  double verify = get("BM_Floor_P256Verify");
  if (keygen == 0 || sign == 0 || verify == 0) {
    std::printf("\nfloors were filtered out: no ratios\n");
    return 0;
  }
  double composite = 1.0 / (1.0 / keygen + 1.0 / sign);
  struct Row {
    const char* name;
    const char* floorName;
    double floor;
    double target;
  } rows[] = {
      {"BM_X509SvidMint", "keygen+sign composite", composite, 0.60},
      {"BM_JwtSvidMint", "raw sign", sign, 0.70},
      {"BM_JwtSvidValidate", "raw verify", verify, 0.70},
  };
  std::printf("\n%-20s %12s %-22s %12s %7s %7s\n", "operation", "ops/s", "floor", "floor ops/s",
              "ratio", "target");
  int below = 0;
  for (const auto& row : rows) {
    double v = get(row.name);
    if (v == 0) {
      continue;
    }
    double ratio = v / row.floor;
    below += ratio < row.target;
    std::printf("%-20s %12.0f %-22s %12.0f %6.0f%% %6.0f%%%s\n", row.name, v, row.floorName,
                row.floor, ratio * 100, row.target * 100, ratio < row.target ? "  BELOW" : "");
  }
  return below;
}

}  // namespace
}  // namespace lanyard::svid

int main(int argc, char** argv) {
  (void)lanyard::log::configure("warn", lanyard::log::Format::Text);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  lanyard::svid::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return lanyard::svid::report(reporter.rates) == 0 ? 0 : 2;
}
