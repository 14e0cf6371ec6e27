// SPDX-License-Identifier: Apache-2.0
// The entries section of the configuration file: registration entries and their checks.
#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <vector>

#include "common/text.h"
#include "daemon/config_sections.h"
#include "daemon/duration.h"
#include "daemon/entry.h"

namespace lanyard::daemon::config_detail {
namespace {

constexpr std::array<std::string_view, 6> kEntryKeys = {
    "spiffe_id", "selectors", "x509_svid_ttl", "jwt_svid_ttl", "dns_names", "hint"};

Result<std::vector<EntrySelector>> readSelectors(const ConfigReader& r, const Fields& ef,
                                                 const std::string& path) {
  const std::string sp = joinPath(path, "selectors");
  const Field* f = ef.find("selectors");
  if (f == nullptr) {
    return r.error(ef.node(), sp, "missing: an entry needs at least one selector");
  }
  LANYARD_TRY(auto items, r.strings(*f, sp));
  if (items.empty()) {
    // An entry without selectors would match every caller.
    return r.error(*f, sp, "an entry needs at least one selector");
  }
  std::vector<EntrySelector> out;
  for (size_t i = 0; i < items.size(); ++i) {
    auto s = parseSelector(items[i].first);
    if (!s) {
      return r.error(items[i].second, indexPath(sp, i), s.error().message);
    }
    if (std::find(out.begin(), out.end(), *s) != out.end()) {
      return r.error(items[i].second, indexPath(sp, i),
                     text::quote(items[i].first, 64) + " is listed twice");
    }
    out.push_back(std::move(*s));
  }
  return out;
}

Result<void> readIdentity(const ConfigReader& r, const Fields& ef, const std::string& path,
                          const Config& c, RegistrationEntry& e) {
  const std::string ip = joinPath(path, "spiffe_id");
  const Field* f = ef.find("spiffe_id");
  if (f == nullptr) {
    return r.error(ef.node(), ip, "missing: the SPIFFE ID this entry gives its callers");
  }
  LANYARD_TRY(e.spiffeIdTemplate, r.string(*f, ip));
  LANYARD_TRY(e.selectors, readSelectors(r, ef, path));
  auto ok = validateIdTemplate(e.spiffeIdTemplate, c.trustDomain, e.selectors);
  if (!ok) {
    return r.error(*f, ip, ok.error().message);
  }
  return {};
}

Result<void> readTtlOverrides(const ConfigReader& r, const Fields& ef, const std::string& path,
                              const Config& c, RegistrationEntry& e) {
  for (auto [key, out] :
       {std::pair{"x509_svid_ttl", &e.x509SvidTtl}, std::pair{"jwt_svid_ttl", &e.jwtSvidTtl}}) {
    if (const Field* f = ef.find(key); f != nullptr) {
      const std::string kp = joinPath(path, key);
      LANYARD_TRY(Seconds ttl, r.duration(*f, kp));
      LANYARD_TRY_VOID(checkSvidTtl(r, *f, kp, ttl, c.authority));
      *out = ttl;
    }
  }
  return {};
}

Result<void> readExtras(const ConfigReader& r, const Fields& ef, const std::string& path,
                        RegistrationEntry& e) {
  if (const Field* f = ef.find("dns_names"); f != nullptr) {
    const std::string dp = joinPath(path, "dns_names");
    LANYARD_TRY(auto items, r.strings(*f, dp));
    for (size_t i = 0; i < items.size(); ++i) {
      auto ok = validateDnsName(items[i].first);
      if (!ok) {
        return r.error(items[i].second, indexPath(dp, i), ok.error().message);
      }
      if (std::find(e.dnsNames.begin(), e.dnsNames.end(), items[i].first) != e.dnsNames.end()) {
        return r.error(items[i].second, indexPath(dp, i),
                       text::quote(items[i].first, 64) + " is listed twice");
      }
      e.dnsNames.push_back(items[i].first);
    }
  }
  if (const Field* f = ef.find("hint"); f != nullptr) {
    const std::string hp = joinPath(path, "hint");
    LANYARD_TRY(e.hint, r.string(*f, hp));
    auto ok = validateHint(e.hint);
    if (!ok) {
      return r.error(*f, hp, ok.error().message);
    }
  }
  return {};
}

// Same ID and same selector set, in any order: the second entry can never add anything.
std::string duplicateKey(const RegistrationEntry& e) {
  std::vector<std::string> sel;
  for (const EntrySelector& s : e.selectors) {
    sel.push_back(s.str());
  }
  std::sort(sel.begin(), sel.end());
  std::string key = e.spiffeIdTemplate;
  for (const std::string& s : sel) {
    key += '\0';
    key += s;
  }
  return key;
}

}  // namespace

std::pair<Seconds, const char*> signingCaTtl(const svid::AuthorityConfig& a,
                                             std::string_view ttlKey) {
  if (a.issuingTtl > Seconds(0) && ttlKey.ends_with("x509_svid_ttl")) {
    return {a.issuingTtl, "authority.tpm.issuing_ttl"};
  }
  return {a.caTtl, "authority.ca_ttl"};
}

Result<void> checkSvidTtl(const ConfigReader& r, const Field& f, std::string_view path, Seconds ttl,
                          const svid::AuthorityConfig& a) {
  auto [caTtl, caKey] = signingCaTtl(a, path);
  if (ttl > caTtl / 2) {
    return r.error(f, path,
                   formatDuration(ttl) + " is more than half of " + caKey + " (" +
                       formatDuration(caTtl) +
                       "): an SVID never outlives its CA, so it would be cut short");
  }
  return {};
}

Result<void> readEntries(const ConfigReader& r, const Field& f, Config& c) {
  if (!f.value.IsSequence()) {
    return r.error(f, "entries", "expected a sequence, got " + std::string(describeType(f.value)));
  }
  std::map<std::string, size_t> seen;
  size_t i = 0;
  for (auto it = f.value.begin(); it != f.value.end(); ++it, ++i) {
    const YAML::Node node = *it;
    const std::string path = indexPath("entries", i);
    if (!node.IsMap()) {
      // A null item ("- " alone) has no line of its own: report the entries key.
      return r.error(node.IsNull() ? f.key : node, path,
                     "expected a map (one entry), got " + std::string(describeType(node)));
    }
    LANYARD_TRY(Fields ef, r.fields(node, path, kEntryKeys));
    RegistrationEntry e;
    LANYARD_TRY_VOID(readIdentity(r, ef, path, c, e));
    LANYARD_TRY_VOID(readTtlOverrides(r, ef, path, c, e));
    LANYARD_TRY_VOID(readExtras(r, ef, path, e));
    auto [prev, inserted] = seen.emplace(duplicateKey(e), i);
    if (!inserted) {
      return r.error(node, path,
                     "same spiffe_id and selectors as " + indexPath("entries", prev->second));
    }
    c.entries.push_back(std::move(e));
  }
  return {};
}

}  // namespace lanyard::daemon::config_detail
