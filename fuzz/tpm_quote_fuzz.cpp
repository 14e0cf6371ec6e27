// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the TPM quote verifier (attestors/tpm/quote.h): the bytes a TPM (or
// something pretending to be one) returns are split into an AK public area, a TPMS_ATTEST and a
// TPMT_SIGNATURE. Nothing random may verify, and nothing may crash the parsers.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "attestors/tpm/quote.h"

namespace {

using namespace lanyard::attestors::tpm;

// Splits at two-byte big-endian lengths: [len][ak public][len][attest][rest = signature].
bool take(std::string_view& in, std::string& out) {
  if (in.size() < 2) {
    return false;
  }
  size_t n = (static_cast<uint8_t>(in[0]) << 8) | static_cast<uint8_t>(in[1]);
  in.remove_prefix(2);
  n = std::min(n, in.size());
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

// tss2-mu reports every malformed field on stderr: millions of lines under the fuzzer.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  ::setenv("TSS2_LOG", "all+NONE", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string akPublic;
  Quote quote;
  if (!take(in, akPublic) || !take(in, quote.attest)) {
    return 0;
  }
  quote.signature.assign(in);
  PcrValues pcrs{{0, 7}, {std::string(32, '\0'), std::string(32, '\0')}};
  // A public area that does not parse is replaced by a fixed key, so that every input also
  // reaches the TPMS_ATTEST and TPMT_SIGNATURE parsers.
  static EVP_PKEY* const fallback = EVP_EC_gen("P-256");
  auto ak = publicKeyFromTpmt(akPublic);
  EVP_PKEY* key = fallback;
  if (ak) {
    if (auto spki = subjectPublicKeyInfo(ak->get()); !spki || spki->empty()) {
      std::abort();  // a key that parsed must encode
    }
    key = ak->get();
  }
  // A random signature over a random structure must never verify against a fixed nonce.
  if (verifyQuote(quote, key, std::string(32, 'n'), pcrs)) {
    std::abort();
  }
  return 0;
}
