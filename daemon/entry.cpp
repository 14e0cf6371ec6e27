// SPDX-License-Identifier: Apache-2.0
// Registration entries: selector syntax, DNS names, hints and matching callers to entries.
#include "daemon/entry.h"

#include <algorithm>
#include <string>

#include "common/text.h"

namespace lanyard::daemon {
namespace {

Unexpected bad(std::string why) { return fail(Code::InvalidArgument, std::move(why)); }

bool isTypeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool isKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool isLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// Control characters would let config text forge log lines; UTF-8 (>= 0x80) is fine.
bool hasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

constexpr std::string_view kSelectorForm =
    "write type:key:value (e.g. unix:uid:1000), or type:key for \"any value\"";

// Checks one dot-separated label of a host name (RFC 1123).
Result<void> checkLabel(std::string_view name, std::string_view label) {
  if (label.empty()) {
    return bad("DNS name " + text::quote(name) + " has an empty label");
  }
  if (label.size() > 63) {
    return bad("DNS name " + text::quote(name) + " has a label longer than 63 bytes");
  }
  if (label.front() == '-' || label.back() == '-') {
    return bad("DNS name " + text::quote(name) + " has a label that starts or ends with '-'");
  }
  if (!std::all_of(label.begin(), label.end(), isLabelChar)) {
    return bad("DNS name " + text::quote(name) +
               " is not a host name (letters, digits, '-' and '.' only; '*.' may lead)");
  }
  return {};
}

}  // namespace

Result<EntrySelector> parseSelector(std::string_view text) {
  if (text.size() > kMaxSelectorLength) {
    return bad("selector is " + std::to_string(text.size()) + " bytes, longer than " +
               std::to_string(kMaxSelectorLength));
  }
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return bad("selector " + text::quote(text) + " has no key: " + std::string(kSelectorForm));
  }
  std::string_view type = text.substr(0, colon);
  std::string_view rest = text.substr(colon + 1);
  if (type.empty() || !std::all_of(type.begin(), type.end(), isTypeChar)) {
    return bad("selector " + text::quote(text) +
               ": the type must be lowercase letters, digits, '_' or '-'");
  }
  const size_t colon2 = rest.find(':');
  std::string_view key = rest.substr(0, colon2);
  if (key.empty() || !std::all_of(key.begin(), key.end(), isKeyChar)) {
    return bad("selector " + text::quote(text) +
               ": the key must be letters, digits, '_', '.' or '-' (" + std::string(kSelectorForm) +
               ")");
  }
  if (colon2 != std::string_view::npos) {
    std::string_view value = rest.substr(colon2 + 1);
    if (value.empty()) {
      return bad("selector " + text::quote(text) +
                 " has an empty value: " + std::string(kSelectorForm));
    }
    if (hasControl(value)) {
      return bad("selector " + text::quote(text) + " contains a control character");
    }
  }
  return EntrySelector{.type = std::string(type), .value = std::string(rest)};
}

Result<void> validateDnsName(std::string_view name) {
  if (name.empty()) {
    return bad("DNS name is empty");
  }
  if (name.size() > 253) {
    return bad("DNS name is " + std::to_string(name.size()) + " bytes, longer than 253");
  }
  if (name.back() == '.') {
    return bad("DNS name " + text::quote(name) + " ends with '.' (write it without the final dot)");
  }
  std::string_view rest = name;
  if (rest.substr(0, 2) == "*.") {
    rest.remove_prefix(2);
  }
  while (true) {
    const size_t dot = rest.find('.');
    LANYARD_TRY_VOID(checkLabel(name, rest.substr(0, dot)));
    if (dot == std::string_view::npos) {
      return {};
    }
    rest.remove_prefix(dot + 1);
  }
}

Result<void> validateHint(std::string_view hint) {
  if (hint.size() > kMaxHintLength) {
    return bad("hint is " + std::to_string(hint.size()) + " bytes, longer than " +
               std::to_string(kMaxHintLength) + " (WAPI-9)");
  }
  if (hasControl(hint)) {
    return bad("hint " + text::quote(hint) + " contains a control character");
  }
  return {};
}

bool matches(const RegistrationEntry& entry, const std::vector<CallerSelector>& caller) {
  return std::all_of(entry.selectors.begin(), entry.selectors.end(), [&](const EntrySelector& s) {
    return std::any_of(caller.begin(), caller.end(), [&](const CallerSelector& c) {
      if (c.first != s.type) {
        return false;
      }
      if (!s.presenceOnly()) {
        return c.second == s.value;
      }
      // "k8s:ns" is present when the caller has "ns:<anything>".
      return c.second.size() > s.value.size() && c.second[s.value.size()] == ':' &&
             std::string_view(c.second).substr(0, s.value.size()) == s.value;
    });
  });
}

std::string bareReason(const Error& error) {
  // svid/ messages read `doing "input": why`, where the input escapes '"' as \" or \xNN.
  const std::string& m = error.message;
  size_t i = m.find('"');
  if (i == std::string::npos) {
    return m;
  }
  for (++i; i < m.size(); ++i) {
    if (m[i] == '\\') {
      ++i;
    } else if (m[i] == '"') {
      break;
    }
  }
  if (i + 2 < m.size() && m.compare(i + 1, 2, ": ") == 0) {
    return m.substr(i + 3);
  }
  return m;
}

}  // namespace lanyard::daemon
