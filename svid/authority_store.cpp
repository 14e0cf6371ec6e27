// SPDX-License-Identifier: Apache-2.0
// Persistence of the CA state: manifest + per-slot certificate and key files.
#include "svid/authority_store.h"

#include <dirent.h>

#include <cstring>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "common/file_io.h"
#include "svid/bundle.h"
#include "svid/ca_certificate.h"
#include "svid/jwk.h"
#include "svid/key.h"
#include "svid/x509_fields.h"
#include "svid/x509_svid.h"

namespace lanyard::svid {
namespace {

constexpr int kManifestVersion = 1;

Unexpected badFile(const std::string& path, const std::string& what) {
  return fail(Code::DataLoss, "loading CA state from " + path + ": " + what);
}

// Reads a PEM key, wiping the text buffer afterwards (keys never linger in memory).
Result<ossl::UniquePtr<EVP_PKEY>> readKey(const std::string& path) {
  auto text = fileio::readSecret(path);
  if (!text) {
    Error e = std::move(text).error();
    return fail(e.code == Code::NotFound ? Code::DataLoss : e.code,
                "loading CA state: " + e.message);
  }
  auto key = privateKeyFromPem(*text);
  OPENSSL_cleanse(text->data(), text->size());
  if (!key) {
    return badFile(path, "not a valid private key (corrupted or truncated)");
  }
  return key;
}

Result<SlotState> parseState(const std::string& s) {
  for (SlotState st : {SlotState::Prepared, SlotState::Active, SlotState::Retired}) {
    if (s == slotStateName(st)) {
      return st;
    }
  }
  return fail(Code::DataLoss, "unknown slot state \"" + s + "\"");
}

}  // namespace

const char* slotStateName(SlotState s) {
  switch (s) {
    case SlotState::Prepared:
      return "prepared";
    case SlotState::Active:
      return "active";
    case SlotState::Retired:
      return "retired";
  }
  return "unknown";
}

AuthorityStore::AuthorityStore(std::string dataDir, TrustDomain td, std::string upstream,
                               bool x509InSlots)
    : dir_(std::move(dataDir)),
      manifest_(dir_ + "/authority.json"),
      td_(std::move(td)),
      upstream_(std::move(upstream)),
      x509InSlots_(x509InSlots) {}

std::string AuthorityStore::slotFile(const char* prefix, uint64_t id, const char* ext) const {
  return dir_ + "/" + prefix + "-" + std::to_string(id) + ext;
}

Result<void> AuthorityStore::loadSlotLifetime(const nlohmann::json& s, CaSlot& slot) const {
  if (s.contains("not_before") && s.contains("not_after")) {
    slot.notBefore = fromUnixSeconds(s.at("not_before").get<int64_t>());
    slot.notAfter = fromUnixSeconds(s.at("not_after").get<int64_t>());
  } else {
    // Written by a daemon that kept the X.509 CA in the slot: its certificate has the lifetime.
    std::string certPath = slotFile("ca", slot.id, ".pem");
    auto certText = fileio::read(certPath);
    auto certs = parsePemCertificates(certText ? *certText : std::string());
    if (!certText || !certs || certs->size() != 1) {
      return badFile(manifest_, "slot " + std::to_string(slot.id) +
                                    " has no not_before/not_after and no readable " + certPath);
    }
    slot.notBefore = x509fields::notBefore((*certs)[0].get());
    slot.notAfter = x509fields::notAfter((*certs)[0].get());
  }
  if (slot.notAfter <= slot.notBefore) {
    return badFile(manifest_, "slot " + std::to_string(slot.id) + " ends before it starts");
  }
  return {};
}

Result<CaSlot> AuthorityStore::loadSlot(const nlohmann::json& s) const {
  CaSlot slot;
  slot.id = s.at("id").get<uint64_t>();
  const uint64_t id = slot.id;
  const std::string kid = s.at("jwt_kid").get<std::string>();
  auto st = parseState(s.at("state").get<std::string>());
  if (!st) {
    return badFile(manifest_, "slot " + std::to_string(id) + ": " + st.error().message);
  }
  slot.state = *st;
  if (x509InSlots_) {
    std::string certPath = slotFile("ca", id, ".pem");
    auto certText = fileio::read(certPath);
    if (!certText) {
      return badFile(certPath, certText.error().message);
    }
    auto certs = parsePemCertificates(*certText);
    if (!certs || certs->size() != 1) {
      return badFile(certPath, "not exactly one valid PEM certificate (corrupted or truncated)");
    }
    slot.cert = std::move((*certs)[0]);
    auto id2 = spiffeIdFromCertificate(slot.cert.get());
    if (!id2 || id2->trustDomain() != td_) {
      return badFile(certPath, "certificate is not a CA of trust domain " + td_.name());
    }
    LANYARD_TRY(slot.key, readKey(slotFile("ca", id, ".key")));
    if (!keyMatchesCertificate(slot.cert.get(), slot.key.get())) {
      return badFile(slotFile("ca", id, ".key"), "key does not match certificate " + certPath);
    }
    slot.notBefore = x509fields::notBefore(slot.cert.get());
    slot.notAfter = x509fields::notAfter(slot.cert.get());
  } else {
    LANYARD_TRY_VOID(loadSlotLifetime(s, slot));
  }
  LANYARD_TRY(slot.jwtKey, readKey(slotFile("jwt", id, ".key")));
  auto realKid = keyIdFor(slot.jwtKey.get());
  if (!realKid || *realKid != kid) {
    return badFile(slotFile("jwt", id, ".key"),
                   "key does not match the key ID " + kid + " recorded in " + manifest_);
  }
  slot.jwtKid = kid;
  return slot;
}

Result<std::optional<AuthorityState>> AuthorityStore::load() const {
  if (!fileio::exists(manifest_)) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      std::string name = entry.path().filename().string();
      if ((name.rfind("ca-", 0) == 0 || name.rfind("jwt-", 0) == 0) && name.size() > 4 &&
          name.compare(name.size() - 4, 4, ".key") == 0) {
        return badFile(manifest_, "missing, but CA key " + entry.path().string() +
                                      " exists; refusing to create a new root (restore the "
                                      "file or move the data directory aside)");
      }
    }
    return std::optional<AuthorityState>();
  }
  auto text = fileio::read(manifest_);
  if (!text) {
    return fail(Code::DataLoss, "loading CA state: " + text.error().message);
  }
  nlohmann::json m = nlohmann::json::parse(*text, nullptr, false);
  if (m.is_discarded() || !m.is_object()) {
    return badFile(manifest_, "not valid JSON (corrupted or truncated)");
  }
  AuthorityState state;
  try {
    if (m.at("version").get<int>() != kManifestVersion) {
      return badFile(manifest_, "unsupported version " + m.at("version").dump());
    }
    std::string td = m.at("trust_domain").get<std::string>();
    if (td != td_.name()) {
      return badFile(manifest_,
                     "belongs to trust domain " + td + ", but " + td_.name() + " is configured");
    }
    std::string up = m.at("upstream").get<std::string>();
    if (up != upstream_) {
      return badFile(manifest_, "was created with upstream " + up + ", but " + upstream_ +
                                    " is configured (changing it would change the bundle)");
    }
    state.sequence = m.at("sequence").get<uint64_t>();
    state.upstreamRoots = m.value("upstream_roots", std::string());
    state.nextSlotId = m.at("next_slot").get<uint64_t>();
    for (const auto& s : m.at("slots")) {
      uint64_t id = s.at("id").get<uint64_t>();
      if (id >= state.nextSlotId) {
        return badFile(manifest_, "slot id " + std::to_string(id) + " is not below next_slot");
      }
      LANYARD_TRY(CaSlot slot, loadSlot(s));
      state.slots.push_back(std::move(slot));
    }
    // At most one active and one prepared CA, each id once: anything else is not a state this
    // code writes, so refuse it rather than guess which CA signs.
    std::set<uint64_t> ids;
    int active = 0;
    int prepared = 0;
    for (const auto& slot : state.slots) {
      active += slot.state == SlotState::Active;
      prepared += slot.state == SlotState::Prepared;
      if (!ids.insert(slot.id).second) {
        return badFile(manifest_, "slot id " + std::to_string(slot.id) + " appears twice");
      }
    }
    if (active > 1 || prepared > 1) {
      return badFile(manifest_, "more than one active or prepared CA");
    }
    committed_ = std::move(ids);
  } catch (const nlohmann::json::exception& e) {
    return badFile(manifest_, std::string("malformed: ") + e.what());
  }
  return std::optional<AuthorityState>(std::move(state));
}

Result<void> AuthorityStore::save(const AuthorityState& state) const {
  LANYARD_TRY_VOID(fileio::makeDirs(dir_, 0700));
  nlohmann::json slots = nlohmann::json::array();
  std::set<std::string> keep = {"authority.json"};
  for (const auto& slot : state.slots) {
    std::string cert = slotFile("ca", slot.id, ".pem");
    std::string key = slotFile("ca", slot.id, ".key");
    std::string jwt = slotFile("jwt", slot.id, ".key");
    keep.insert(std::filesystem::path(jwt).filename().string());
    if (slot.cert) {
      keep.insert(std::filesystem::path(cert).filename().string());
      keep.insert(std::filesystem::path(key).filename().string());
    }
    // Committed slot files never change; any other slot's files are written now, even if
    // files with its id exist (left by a crash before their manifest was committed).
    if (committed_.count(slot.id) == 0) {
      // SecretBytes wipe the PEM text on every path out of this block.
      LANYARD_TRY(std::string jwtText, privateKeyToPem(slot.jwtKey.get()));
      SecretBytes jwtPem(std::move(jwtText));
      LANYARD_TRY_VOID(fileio::writeAtomic(jwt, jwtPem.str(), 0600));
      if (slot.cert) {
        LANYARD_TRY(std::string certPem, certificateToPem(slot.cert.get()));
        LANYARD_TRY(std::string keyText, privateKeyToPem(slot.key.get()));
        SecretBytes keyPem(std::move(keyText));
        LANYARD_TRY_VOID(fileio::writeAtomic(key, keyPem.str(), 0600));
        LANYARD_TRY_VOID(fileio::writeAtomic(cert, certPem, 0644));
      }
    }
    slots.push_back({{"id", slot.id},
                     {"state", slotStateName(slot.state)},
                     {"jwt_kid", slot.jwtKid},
                     {"not_before", unixSeconds(slot.notBefore)},
                     {"not_after", unixSeconds(slot.notAfter)}});
  }
  nlohmann::json m = {{"version", kManifestVersion},   {"trust_domain", td_.name()},
                      {"upstream", upstream_},         {"sequence", state.sequence},
                      {"next_slot", state.nextSlotId}, {"slots", slots}};
  if (!state.upstreamRoots.empty()) {
    m["upstream_roots"] = state.upstreamRoots;
  }
  LANYARD_TRY_VOID(fileio::writeAtomic(manifest_, m.dump(2) + "\n", 0600));
  committed_.clear();
  for (const auto& slot : state.slots) {
    committed_.insert(slot.id);
  }
  // Only after the manifest no longer names them: remove files of dropped slots.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    bool ours = name.rfind("ca-", 0) == 0 || name.rfind("jwt-", 0) == 0;
    // Also removes temp files a crash left mid-write (they may hold key bytes).
    bool temp = name.rfind("authority.json.tmp.", 0) == 0;
    if ((ours || temp) && keep.count(name) == 0) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  return {};
}

}  // namespace lanyard::svid
