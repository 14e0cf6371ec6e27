// SPDX-License-Identifier: Apache-2.0
// Registration entries: which callers (selectors) get which SPIFFE ID, including templated
// IDs whose path is filled in from the caller's selectors (DESIGN.md §4).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "svid/spiffe_id.h"

namespace lanyard::daemon {

/// One selector of an entry, SPIRE-compatible: "unix:uid:1000" is {type "unix", value
/// "uid:1000"}; "docker:label:app:web" is {"docker", "label:app:web"}. A value without ':'
/// ("k8s:ns" is {"k8s", "ns"}) is a presence selector: the caller must have some value for
/// that type and key. Kept independent of attestors::Selector so that daemon/ config does not
/// depend on attestors/. Plain value type.
struct EntrySelector {
  std::string type{};
  std::string value{};

  /// True for "type:key" selectors that match any value of that key.
  bool presenceOnly() const { return value.find(':') == std::string::npos; }
  /// The key: "uid" for "unix:uid:1000", "ns" for "k8s:ns".
  std::string_view key() const { return std::string_view(value).substr(0, value.find(':')); }
  /// The text form, "type:value".
  std::string str() const { return type + ":" + value; }

  auto operator<=>(const EntrySelector&) const = default;
};

/// A caller's selector as attestation reports it: (type, value), e.g. ("k8s", "ns:prod").
using CallerSelector = std::pair<std::string, std::string>;

/// Who gets which identity. Plain value type; the config loader validates every field with
/// the functions below, and later code relies on that.
struct RegistrationEntry {
  /// A SPIFFE ID, or a template with {type:key} placeholders in its path
  /// ("spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}").
  std::string spiffeIdTemplate{};
  /// All must match (matches()).
  std::vector<EntrySelector> selectors{};
  /// Overrides of the daemon-wide TTLs.
  std::optional<Seconds> x509SvidTtl{};
  std::optional<Seconds> jwtSvidTtl{};
  /// DNS SANs of the X.509-SVID.
  std::vector<std::string> dnsNames{};
  /// Workload API `hint` (WAPI-9), empty for none.
  std::string hint{};
};

/// Longest selector accepted, in bytes.
inline constexpr size_t kMaxSelectorLength = 1024;
/// Longest hint accepted, in bytes (WAPI-9: SHOULD NOT exceed 1024).
inline constexpr size_t kMaxHintLength = 1024;

/// Parses "type:key:value" or "type:key". The type is [a-z0-9_-]+, the key [A-Za-z0-9_.-]+,
/// the value any non-empty printable text (':' allowed). InvalidArgument with the bare reason
/// (for the caller to prefix with where the selector came from).
Result<EntrySelector> parseSelector(std::string_view text);

/// True when the ID has {type:key} placeholders.
bool isTemplated(std::string_view spiffeIdTemplate);

/// Checks an ID or template for an entry of trust domain `td`: well formed (ID-1 … ID-5; for a
/// template, its fixed parts, and its length with the placeholders as written), in `td`, not
/// the root ID (X509-2: a leaf needs a path), and every {type:key} placeholder names the type
/// and key of one of `selectors`. Placeholders may appear only in the path. InvalidArgument
/// with the bare reason ("path segment \"..\" is not allowed").
Result<void> validateIdTemplate(std::string_view spiffeIdTemplate, const svid::TrustDomain& td,
                                const std::vector<EntrySelector>& selectors);

/// Checks a DNS SAN: a host name of dot-separated labels of [A-Za-z0-9-] (1 to 63 bytes, no
/// leading or trailing '-'), at most 253 bytes, no trailing dot; the first label may be "*".
/// InvalidArgument with the bare reason.
Result<void> validateDnsName(std::string_view name);

/// Checks a hint: at most kMaxHintLength bytes (WAPI-9), no control characters.
/// InvalidArgument with the bare reason.
Result<void> validateHint(std::string_view hint);

/// True when every selector of `entry` is among `caller`; a presence selector matches any
/// caller value of that type whose key is the same ("k8s:ns" matches ("k8s", "ns:prod")).
bool matches(const RegistrationEntry& entry, const std::vector<CallerSelector>& caller);

/// The SPIFFE ID `entry` gives a caller with these selectors: the ID itself, or the template
/// with each {type:key} replaced by the caller's value for that key (when the entry names
/// exact values for the key, only those count). Fails closed with PermissionDenied when a
/// placeholder has no value, more than one, or a value that is not one valid path segment
/// ("/", "." and ".." are refused, never normalised: ID-4, ID-6), or when the result is not a
/// valid ID (ID-5). Pure; thread-safe.
Result<svid::SpiffeId> render(const RegistrationEntry& entry,
                              const std::vector<CallerSelector>& caller);

/// The reason part of an error from svid/ ("parsing SPIFFE ID \"x\": why" gives "why").
std::string bareReason(const Error& error);

}  // namespace lanyard::daemon
