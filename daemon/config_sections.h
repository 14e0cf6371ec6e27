// SPDX-License-Identifier: Apache-2.0
// Internal to daemon/: readers for the sections of the configuration file, shared by
// config.cpp (top level), config_sections.cpp (authority, health, attestors) and
// config_entries.cpp (entries).
#pragma once

#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "daemon/config.h"
#include "daemon/config_reader.h"

namespace lanyard::daemon::config_detail {

/// `authority:` into c.authority (all but trustDomain and dataDir).
Result<void> readAuthority(const ConfigReader& r, const Field& f, Config& c);
/// `health:` into c.healthListen.
Result<void> readHealth(const ConfigReader& r, const Field& f, Config& c);
/// `attestors:` into c.attestors, kept raw: a map of attestor names to a map or null.
Result<void> readAttestors(const ConfigReader& r, const Field& f, Config& c);
/// `node_attestors:` (only `tpm:` so far) into c.tpm.
Result<void> readNodeAttestors(const ConfigReader& r, const Field& f, Config& c);
/// `entries:` into c.entries; needs c.trustDomain and c.authority.caTtl.
Result<void> readEntries(const ConfigReader& r, const Field& f, Config& c);

/// Rejects an SVID TTL (`path` ends in x509_svid_ttl or jwt_svid_ttl) above half of the
/// lifetime of the CA that signs it: an SVID never outlives its CA (DESIGN.md §3), so a longer
/// TTL would be silently cut short. X.509-SVIDs are signed by the in-memory issuing CA when
/// there is one (authority.tpm.issuing_ttl), else by a generation (authority.ca_ttl). `f` is
/// where the TTL was written.
Result<void> checkSvidTtl(const ConfigReader& r, const Field& f, std::string_view path, Seconds ttl,
                          const svid::AuthorityConfig& a);

/// The lifetime of the CA that signs SVIDs of the kind named by `ttlKey` (x509_svid_ttl or
/// jwt_svid_ttl), and the configuration key that sets it.
std::pair<Seconds, const char*> signingCaTtl(const svid::AuthorityConfig& a,
                                             std::string_view ttlKey);

}  // namespace lanyard::daemon::config_detail
