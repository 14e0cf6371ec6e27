// SPDX-License-Identifier: Apache-2.0
// `lanyard api fetch x509|jwt|bundle`: one-shot Workload API fetches, printed as text or JSON,
// and `--write DIR` for the X.509-SVIDs as spire-agent's `api fetch x509 -write` does.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/file_io.h"
#include "svid/key.h"

namespace lanyard::cli {
namespace {

using nlohmann::json;

std::string plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// svid.N.pem (chain), svid.N.key (PKCS#8 PEM, 0600, atomic) and bundle.N.pem (the SVID's own
// trust-domain bundle) for each SVID; N = 0 is the default.
Result<std::vector<std::string>> writeFiles(const std::string& dir,
                                            const workload_api::X509Context& ctx) {
  std::string context = "writing the X.509-SVIDs to " + dir;
  auto made = fileio::makeDirs(dir, 0700);
  if (!made) {
    return fail(made.error().wrap(context));
  }
  std::vector<std::string> written;
  for (size_t i = 0; i < ctx.svids.size(); ++i) {
    const svid::X509Svid& s = ctx.svids[i].svid;
    std::string n = std::to_string(i);
    LANYARD_TRY(std::string chain, s.chainPem());
    LANYARD_TRY(std::string key, svid::privateKeyToPem(s.key.get()));
    auto keyWritten = fileio::writeAtomic(dir + "/svid." + n + ".key", key, 0600);
    OPENSSL_cleanse(key.data(), key.size());
    LANYARD_TRY_VOID(keyWritten);
    LANYARD_TRY_VOID(fileio::writeAtomic(dir + "/svid." + n + ".pem", chain, 0644));
    auto bundle = ctx.bundles.find(s.id.trustDomain());
    std::string pem = bundle == ctx.bundles.end() ? std::string() : bundle->second->x509Pem();
    LANYARD_TRY_VOID(fileio::writeAtomic(dir + "/bundle." + n + ".pem", pem, 0644));
    for (const char* name : {"svid.%.pem", "svid.%.key", "bundle.%.pem"}) {
      std::string file = name;
      file.replace(file.find('%'), 1, n);
      written.push_back(dir + "/" + file);
    }
  }
  return written;
}

json x509Json(const workload_api::X509Context& ctx) {
  json doc{{"svids", json::array()}, {"bundles", json::object()}};
  for (const auto& identity : ctx.svids) {
    auto certs = identity.svid.certificates();
    doc["svids"].push_back({{"spiffe_id", identity.svid.id.str()},
                            {"hint", identity.hint},
                            {"not_after", rfc3339(identity.svid.notAfter)},
                            {"chain_length", certs ? certs->size() : 0}});
  }
  for (const auto& [td, bundle] : ctx.bundles) {
    doc["bundles"][td.name()] = bundle->x509Authorities().size();
  }
  return doc;
}

std::string x509Text(const json& doc) {
  std::string out;
  for (size_t i = 0; i < doc["svids"].size(); ++i) {
    const json& s = doc["svids"][i];
    std::string hint = s["hint"].get<std::string>();
    out += "SVID " + std::to_string(i) + (i == 0 ? " (default)" : "") + "\n";
    out += "  SPIFFE ID:    " + s["spiffe_id"].get<std::string>() + "\n";
    out += "  Hint:         " + (hint.empty() ? std::string("(none)") : hint) + "\n";
    out += "  Not after:    " + s["not_after"].get<std::string>() + "\n";
    out += "  Chain length: " + std::to_string(s["chain_length"].get<size_t>()) + "\n";
  }
  std::string bundles;
  for (const auto& [td, n] : doc["bundles"].items()) {
    bundles += (bundles.empty() ? "" : ", ") + td + " (" + plural(n.get<size_t>(), "CA") + ")";
  }
  return out + "Bundles: " + bundles + "\n";
}

}  // namespace

Result<void> fetchX509(const FetchX509Options& options) {
  LANYARD_TRY(auto client, connect(options.common));
  LANYARD_TRY(auto ctx, client->fetchX509Context());
  json doc = x509Json(ctx);
  std::vector<std::string> written;
  if (!options.writeDir.empty()) {
    LANYARD_TRY(written, writeFiles(options.writeDir, ctx));
    doc["files"] = written;
  }
  if (options.common.json()) {
    printJson(doc);
    return {};
  }
  std::string text = x509Text(doc);
  if (!written.empty()) {
    text += "Wrote " + plural(written.size(), "file") + " to " + options.writeDir +
            " (svid.N.pem, svid.N.key, bundle.N.pem; N = 0 is the default SVID)\n";
  }
  printText(text);
  return {};
}

Result<void> fetchJwt(const FetchJwtOptions& options) {
  std::optional<svid::SpiffeId> id;
  if (!options.spiffeId.empty()) {
    LANYARD_TRY(auto parsed, svid::SpiffeId::parse(options.spiffeId));
    id = std::move(parsed);
  }
  LANYARD_TRY(auto client, connect(options.common));
  LANYARD_TRY(auto svids, client->fetchJwtSvids(options.audiences, id));
  if (options.common.json()) {
    json doc{{"svids", json::array()}};
    for (const auto& s : svids) {
      doc["svids"].push_back(
          {{"spiffe_id", s.svid.subject.str()}, {"token", s.svid.token}, {"hint", s.hint}});
    }
    printJson(doc);
    return {};
  }
  std::string out;
  for (const auto& s : svids) {
    out += "token(" + s.svid.subject.str() + "):\n\t" + s.svid.token + "\n";
    if (!s.hint.empty()) {
      out += "hint(" + s.svid.subject.str() + "): " + s.hint + "\n";
    }
  }
  printText(out);
  return {};
}

Result<void> fetchBundle(const CommonOptions& options) {
  LANYARD_TRY(auto client, connect(options));
  LANYARD_TRY(auto x509, client->fetchX509Bundles());
  LANYARD_TRY(auto jwt, client->fetchJwtBundles());
  json doc{{"x509_bundles", json::object()}, {"jwt_bundles", json::object()}};
  std::string text;
  for (const auto& [td, bundle] : x509) {
    doc["x509_bundles"][td.name()] = bundle->x509Pem();
    text += "X.509 bundle of " + td.name() + ":\n" + bundle->x509Pem() + "\n";
  }
  for (const auto& [td, bundle] : jwt) {
    LANYARD_TRY(std::string jwks, bundle->jwtBundleJson());
    doc["jwt_bundles"][td.name()] = json::parse(jwks, nullptr, false);
    text += "JWT bundle of " + td.name() + ":\n" + jwks + "\n\n";
  }
  if (options.json()) {
    printJson(doc);
  } else {
    printText(text);
  }
  return {};
}

}  // namespace lanyard::cli
