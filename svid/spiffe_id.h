// SPDX-License-Identifier: Apache-2.0
// TrustDomain and SpiffeId: parsing and validation per spec/SPIFFE.md §1 (ID-1 … ID-9).
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "common/result.h"

namespace lanyard::svid {

/// Longest SPIFFE ID accepted or generated, in bytes (ID-5).
inline constexpr size_t kMaxSpiffeIdLength = 2048;
/// Longest trust-domain name, in bytes (ID-5).
inline constexpr size_t kMaxTrustDomainLength = 255;

/// A validated trust-domain name (no scheme): lowercase letters, digits, '.', '-', '_' (ID-2).
/// Immutable value type; thread-safe.
class TrustDomain {
 public:
  /// Parses a bare name ("example.org") or, as go-spiffe does (ID-9), any string containing
  /// ":/" as a full SPIFFE ID reduced to its trust domain. Applies ID-2, ID-3 and ID-5.
  static Result<TrustDomain> parse(std::string_view name);

  /// Like parse(), then also rejects names that go-spiffe could not carry in an X.509 URI SAN:
  /// a leading or trailing '.', or "..". Use this for configured trust domains (ID-7).
  static Result<TrustDomain> parseForConfig(std::string_view name);

  /// The bare name, e.g. "example.org".
  const std::string& name() const { return name_; }
  /// The trust domain's own ID, "spiffe://example.org" (ID-8); also the Workload API map key.
  std::string idString() const { return "spiffe://" + name_; }

  auto operator<=>(const TrustDomain&) const = default;

 private:
  friend class SpiffeId;
  explicit TrustDomain(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

/// A validated SPIFFE ID: "spiffe://" trust-domain path (ID-1 … ID-6).
/// Immutable value type; compares byte for byte (ID-6).
class SpiffeId {
 public:
  /// Parses and validates a full ID. Rejects everything §1 lists as invalid, with a message
  /// naming the rule that failed ("parsing SPIFFE ID \"...\": path segment \"..\" is not
  /// allowed").
  static Result<SpiffeId> parse(std::string_view id);

  /// Builds an ID from a trust domain and a path ("" or "/a/b"), validating the path (ID-4) and
  /// the total length (ID-5).
  static Result<SpiffeId> fromPath(const TrustDomain& td, std::string_view path);

  const TrustDomain& trustDomain() const { return td_; }
  /// The path, "" for the trust domain's own ID, else "/seg/seg".
  const std::string& path() const { return path_; }
  /// The full ID string.
  std::string str() const { return td_.idString() + path_; }
  /// True when the path is empty (the ID names the trust domain itself, ID-8).
  bool isRoot() const { return path_.empty(); }

  auto operator<=>(const SpiffeId&) const = default;

 private:
  SpiffeId(TrustDomain td, std::string path) : td_(std::move(td)), path_(std::move(path)) {}
  TrustDomain td_;
  std::string path_;
};

/// Validates a path on its own: "" or "/"-separated non-empty segments of [A-Za-z0-9._-],
/// no "." or ".." segment, no trailing "/" (ID-4).
Result<void> validatePath(std::string_view path);

}  // namespace lanyard::svid
