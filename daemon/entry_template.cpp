// SPDX-License-Identifier: Apache-2.0
// Templated SPIFFE IDs of registration entries: checking them and filling them in for a caller.
#include <algorithm>
#include <string>
#include <vector>

#include "common/text.h"
#include "daemon/entry.h"

namespace lanyard::daemon {
namespace {

constexpr std::string_view kScheme = "spiffe://";

Unexpected bad(std::string why) { return fail(Code::InvalidArgument, std::move(why)); }

// A run of fixed text, or the "type:key" inside one {placeholder}.
struct Piece {
  std::string_view text;
  bool placeholder = false;
};

// Checks the "type:key" between braces: the syntax of a presence selector.
Result<void> checkPlaceholder(std::string_view inner) {
  auto s = parseSelector(inner);
  if (!s || !s->presenceOnly()) {
    return bad("placeholder {" + std::string(inner.substr(0, 64)) +
               "} must be {type:key}, e.g. {k8s:ns}");
  }
  return {};
}

// Splits a path into fixed text and placeholders; rejects unbalanced or nested braces.
Result<std::vector<Piece>> splitPath(std::string_view path) {
  std::vector<Piece> pieces;
  size_t i = 0;
  while (i < path.size()) {
    const size_t open = path.find_first_of("{}", i);
    if (open == std::string_view::npos) {
      pieces.push_back({path.substr(i), false});
      break;
    }
    if (path[open] == '}') {
      return bad("'}' without a matching '{'");
    }
    if (open > i) {
      pieces.push_back({path.substr(i, open - i), false});
    }
    const size_t close = path.find_first_of("{}", open + 1);
    if (close == std::string_view::npos || path[close] == '{') {
      return bad("'{' without a matching '}'");
    }
    std::string_view inner = path.substr(open + 1, close - open - 1);
    LANYARD_TRY_VOID(checkPlaceholder(inner));
    pieces.push_back({inner, true});
    i = close + 1;
  }
  return pieces;
}

// The trust-domain part and the path of "spiffe://td/path", before any validation.
struct IdParts {
  std::string_view td;
  std::string_view path;
};

Result<IdParts> splitId(std::string_view id) {
  if (id.substr(0, kScheme.size()) != kScheme) {
    return bad("scheme must be \"spiffe://\"");
  }
  std::string_view rest = id.substr(kScheme.size());
  const size_t slash = rest.find('/');
  IdParts parts{.td = rest.substr(0, slash), .path = ""};
  if (slash != std::string_view::npos) {
    parts.path = rest.substr(slash);
  }
  if (parts.td.find_first_of("{}") != std::string_view::npos) {
    return bad("placeholders are allowed only in the path, not in the trust domain");
  }
  return parts;
}

bool namesSelector(const std::vector<EntrySelector>& selectors, std::string_view typeKey) {
  return std::any_of(selectors.begin(), selectors.end(), [&](const EntrySelector& s) {
    return s.type.size() < typeKey.size() && typeKey[s.type.size()] == ':' &&
           typeKey.substr(0, s.type.size()) == s.type &&
           typeKey.substr(s.type.size() + 1) == s.key();
  });
}

// One path segment's worth of bytes (ID-4): what a placeholder may be replaced with.
bool isSegment(std::string_view v) {
  if (v.empty() || v == "." || v == "..") {
    return false;
  }
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

// The caller's value for "type:key" in a template, restricted to the entry's exact values for
// that key when it names any. Exactly one distinct value is required (fail closed).
Result<std::string> valueFor(const RegistrationEntry& entry, std::string_view typeKey,
                             const std::vector<CallerSelector>& caller) {
  const size_t colon = typeKey.find(':');
  std::string_view type = typeKey.substr(0, colon);
  const std::string prefix = std::string(typeKey.substr(colon + 1)) + ":";
  std::vector<std::string> exact;
  for (const EntrySelector& s : entry.selectors) {
    if (s.type == type && !s.presenceOnly() && s.value.compare(0, prefix.size(), prefix) == 0) {
      exact.push_back(s.value);
    }
  }
  std::vector<std::string> values;
  for (const auto& [ctype, cvalue] : caller) {
    if (ctype != type || cvalue.compare(0, prefix.size(), prefix) != 0) {
      continue;
    }
    if (!exact.empty() && std::find(exact.begin(), exact.end(), cvalue) == exact.end()) {
      continue;
    }
    std::string v = cvalue.substr(prefix.size());
    if (std::find(values.begin(), values.end(), v) == values.end()) {
      values.push_back(std::move(v));
    }
  }
  if (values.size() != 1) {
    return fail(Code::PermissionDenied, "the caller has " + std::to_string(values.size()) +
                                            " values for " + std::string(typeKey) +
                                            ", and a template needs exactly one");
  }
  if (!isSegment(values[0])) {
    return fail(Code::PermissionDenied, "the caller's " + std::string(typeKey) + " value " +
                                            text::quote(values[0]) +
                                            " is not one valid path segment (ID-4)");
  }
  return values[0];
}

}  // namespace

bool isTemplated(std::string_view spiffeIdTemplate) {
  return spiffeIdTemplate.find_first_of("{}") != std::string_view::npos;
}

Result<void> validateIdTemplate(std::string_view tmpl, const svid::TrustDomain& td,
                                const std::vector<EntrySelector>& selectors) {
  if (tmpl.size() > svid::kMaxSpiffeIdLength) {
    return bad("ID is " + std::to_string(tmpl.size()) + " bytes, longer than " +
               std::to_string(svid::kMaxSpiffeIdLength) + " (ID-5)");
  }
  LANYARD_TRY(IdParts parts, splitId(tmpl));
  LANYARD_TRY(std::vector<Piece> pieces, splitPath(parts.path));
  // Check the fixed parts with each placeholder standing in as one valid segment byte.
  std::string skeleton = std::string(kScheme) + std::string(parts.td);
  for (const Piece& p : pieces) {
    if (p.placeholder && !namesSelector(selectors, p.text)) {
      return bad("placeholder {" + std::string(p.text) + "} names no selector of this entry (add " +
                 std::string(p.text) + " to its selectors)");
    }
    skeleton += p.placeholder ? std::string_view("x") : p.text;
  }
  auto id = svid::SpiffeId::parse(skeleton);
  if (!id) {
    return bad(bareReason(id.error()));
  }
  if (id->trustDomain() != td) {
    return bad("trust domain \"" + id->trustDomain().name() +
               "\" is not the configured trust domain \"" + td.name() + "\"");
  }
  if (id->isRoot()) {
    return bad("\"" + id->str() + "\" is the trust domain's own ID; an SVID needs a path (X509-2)");
  }
  return {};
}

Result<svid::SpiffeId> render(const RegistrationEntry& entry,
                              const std::vector<CallerSelector>& caller) {
  const std::string doing = "rendering SPIFFE ID " + text::quote(entry.spiffeIdTemplate);
  auto parts = splitId(entry.spiffeIdTemplate);
  if (!parts) {
    return fail(Code::PermissionDenied, doing + ": " + parts.error().message);
  }
  auto pieces = splitPath(parts->path);
  if (!pieces) {
    return fail(Code::PermissionDenied, doing + ": " + pieces.error().message);
  }
  std::string out = std::string(kScheme) + std::string(parts->td);
  for (const Piece& p : *pieces) {
    if (!p.placeholder) {
      out += p.text;
      continue;
    }
    auto value = valueFor(entry, p.text, caller);
    if (!value) {
      return fail(value.error().wrap(doing));
    }
    out += *value;
  }
  auto id = svid::SpiffeId::parse(out);
  if (!id) {
    return fail(Code::PermissionDenied, doing + ": " + bareReason(id.error()));
  }
  return id;
}

}  // namespace lanyard::daemon
