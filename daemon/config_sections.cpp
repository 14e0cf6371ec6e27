// SPDX-License-Identifier: Apache-2.0
// The authority, health and attestors sections of the configuration file.
#include "daemon/config_sections.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string>

#include "common/text.h"
#include "daemon/entry.h"
#include "svid/key.h"

namespace lanyard::daemon::config_detail {
namespace {

constexpr std::array<std::string_view, 6> kAuthorityKeys = {
    "upstream", "ca_ttl", "disk", "tpm", "ca_key_type", "jwt_key_type"};
constexpr std::array<std::string_view, 4> kAuthorityTpmKeys = {"tcti", "issuing_ttl", "cert_file",
                                                               "bundle_file"};
// authority.tpm.issuing_ttl default: the in-memory issuing CA lives 2 h and is replaced at 1 h,
// so it always has the default x509_svid_ttl (1 h) left.
constexpr Seconds kDefaultIssuingTtl{2 * 3600};
constexpr std::array<std::string_view, 3> kDiskKeys = {"cert_file", "key_file", "bundle_file"};
constexpr std::array<std::string_view, 1> kHealthKeys = {"listen"};
constexpr std::array<std::string_view, 1> kNodeAttestorKeys = {"tpm"};
constexpr std::array<std::string_view, 5> kTpmKeys = {"tcti", "pcrs", "ek_handle", "ek_ca_bundle",
                                                      "remeasure_interval"};
constexpr uint32_t kMaxPcr = 23;

Result<void> readKeyType(const ConfigReader& r, const Fields& af, std::string_view key,
                         svid::KeyType& out) {
  const Field* f = af.find(key);
  if (f == nullptr) {
    return {};
  }
  const std::string path = joinPath("authority", key);
  LANYARD_TRY(std::string name, r.string(*f, path));
  auto type = svid::keyTypeFromName(name);
  if (!type) {
    return r.error(*f, path,
                   "unknown key type " + text::quote(name, 64) + ": " + bareReason(type.error()));
  }
  out = *type;
  return {};
}

Result<void> readUpstream(const ConfigReader& r, const Fields& af, svid::AuthorityConfig& a) {
  const Field* f = af.find("upstream");
  if (f == nullptr) {
    return {};
  }
  LANYARD_TRY(std::string mode, r.string(*f, "authority.upstream"));
  if (mode == "self_signed") {
    a.upstream = svid::UpstreamMode::SelfSigned;
  } else if (mode == "disk") {
    a.upstream = svid::UpstreamMode::Disk;
  } else if (mode == "tpm") {
    a.upstream = svid::UpstreamMode::Tpm;
    a.issuingTtl = kDefaultIssuingTtl;  // the TPM key signs an in-memory issuing CA
  } else {
    return r.error(*f, "authority.upstream",
                   "unknown mode " + text::quote(mode, 64) + " (want self_signed, disk or tpm)");
  }
  return {};
}

// authority.tpm: optional with upstream: tpm (the TCTI has a default), refused otherwise.
Result<void> readAuthorityTpm(const ConfigReader& r, const Fields& af, svid::AuthorityConfig& a) {
  const Field* t = af.find("tpm");
  if (t == nullptr) {
    return {};
  }
  if (a.upstream != svid::UpstreamMode::Tpm) {
    return r.error(*t, "authority.tpm",
                   std::string("only used with upstream: tpm (upstream is ") +
                       svid::upstreamModeName(a.upstream) + ")");
  }
  if (t->value.IsNull()) {
    return {};
  }
  LANYARD_TRY(Fields tf, r.fields(*t, "authority.tpm", kAuthorityTpmKeys));
  if (const Field* v = tf.find("tcti"); v != nullptr) {
    LANYARD_TRY(a.tpmTcti, r.string(*v, "authority.tpm.tcti"));
    if (a.tpmTcti.empty() || a.tpmTcti.find('\0') != std::string::npos) {
      return r.error(*v, "authority.tpm.tcti",
                     "want a TCTI such as device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321");
    }
  }
  if (const Field* v = tf.find("cert_file"); v != nullptr) {
    LANYARD_TRY(a.tpmCertFile, r.path(*v, "authority.tpm.cert_file"));
  }
  if (const Field* v = tf.find("bundle_file"); v != nullptr) {
    if (a.tpmCertFile.empty()) {
      return r.error(*v, "authority.tpm.bundle_file",
                     "only used with authority.tpm.cert_file (the roots of its chain)");
    }
    LANYARD_TRY(a.tpmBundleFile, r.path(*v, "authority.tpm.bundle_file"));
  }
  if (const Field* v = tf.find("issuing_ttl"); v != nullptr) {
    LANYARD_TRY(a.issuingTtl, r.duration(*v, "authority.tpm.issuing_ttl"));
    if (a.issuingTtl < Seconds(60)) {
      return r.error(*v, "authority.tpm.issuing_ttl", "must be at least 1m");
    }
  }
  return {};
}

// authority.disk: required with upstream: disk, refused otherwise so that a forgotten
// `upstream: disk` does not silently create a self-signed root instead.
Result<void> readDisk(const ConfigReader& r, const Fields& af, svid::AuthorityConfig& a) {
  const Field* d = af.find("disk");
  if (a.upstream != svid::UpstreamMode::Disk) {
    if (d != nullptr) {
      return r.error(*d, "authority.disk",
                     std::string("only used with upstream: disk (upstream is ") +
                         svid::upstreamModeName(a.upstream) + ")");
    }
    return {};
  }
  if (d == nullptr) {
    return r.error(*af.find("upstream"), "authority.disk",
                   "missing: upstream: disk needs disk.cert_file and disk.key_file");
  }
  LANYARD_TRY(Fields df, r.fields(*d, "authority.disk", kDiskKeys));
  for (auto [key, out] :
       {std::pair{"cert_file", &a.upstreamCertFile}, std::pair{"key_file", &a.upstreamKeyFile},
        std::pair{"bundle_file", &a.upstreamBundleFile}}) {
    const std::string path = joinPath("authority.disk", key);
    const Field* f = df.find(key);
    if (f != nullptr) {
      LANYARD_TRY(*out, r.path(*f, path));
    } else if (std::string_view(key) != "bundle_file") {
      return r.error(
          *d, path,
          "missing: upstream: disk needs the upstream CA's " +
              std::string(std::string_view(key) == "cert_file" ? "certificate (PEM)"
                                                               : "private key (PEM, mode 0600)"));
    }
  }
  return {};
}

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-';
}

bool isIpv6Char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

// "host:port", "[v6]:port"; port 0 asks the kernel for a free one (tests).
bool validListen(std::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return false;
  }
  std::string_view host = s.substr(0, colon);
  std::string_view port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(std::string(port)) > 65535) {
    return false;
  }
  if (host.front() == '[') {
    return host.size() > 2 && host.back() == ']' &&
           std::all_of(host.begin() + 1, host.end() - 1, isIpv6Char);
  }
  return std::all_of(host.begin(), host.end(), isHostChar);
}

bool validAttestorName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

Result<void> readAuthority(const ConfigReader& r, const Field& f, Config& c) {
  LANYARD_TRY(Fields af, r.fields(f, "authority", kAuthorityKeys));
  svid::AuthorityConfig& a = c.authority;
  LANYARD_TRY_VOID(readUpstream(r, af, a));
  if (const Field* t = af.find("ca_ttl"); t != nullptr) {
    LANYARD_TRY(a.caTtl, r.duration(*t, "authority.ca_ttl"));
  }
  LANYARD_TRY_VOID(readKeyType(r, af, "ca_key_type", a.caKeyType));
  LANYARD_TRY_VOID(readKeyType(r, af, "jwt_key_type", a.jwtKeyType));
  LANYARD_TRY_VOID(readAuthorityTpm(r, af, a));
  return readDisk(r, af, a);
}

Result<void> readHealth(const ConfigReader& r, const Field& f, Config& c) {
  LANYARD_TRY(Fields hf, r.fields(f, "health", kHealthKeys));
  if (const Field* l = hf.find("listen"); l != nullptr) {
    LANYARD_TRY(c.healthListen, r.string(*l, "health.listen"));
    if (c.healthListen != kHealthListenOff && !validListen(c.healthListen)) {
      return r.error(*l, "health.listen",
                     text::quote(c.healthListen, 64) + " is not host:port (e.g. 127.0.0.1:8089)");
    }
  }
  return {};
}

Result<void> readAttestors(const ConfigReader& r, const Field& f, Config& c) {
  if (!f.value.IsMap()) {
    return r.error(f, "attestors",
                   "expected a map of attestor names (e.g. unix: {}), got " +
                       std::string(describeType(f.value)));
  }
  std::vector<std::string> seen;
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar() || !validAttestorName(key.Scalar())) {
      return r.error(key, "attestors",
                     "an attestor name is lowercase letters, digits, '_' or '-' (e.g. unix)");
    }
    const std::string path = joinPath("attestors", key.Scalar());
    if (std::find(seen.begin(), seen.end(), key.Scalar()) != seen.end()) {
      return r.error(key, path, "attestor configured twice");
    }
    seen.push_back(key.Scalar());
    if (!it->second.IsMap() && !it->second.IsNull()) {
      return r.error(key, path,
                     "expected a map (the attestor's settings) or nothing, got " +
                         std::string(describeType(it->second)));
    }
  }
  c.attestors = f.value;
  return {};
}

namespace {

Result<std::vector<uint32_t>> readPcrs(const ConfigReader& r, const Field& f) {
  const std::string path = "node_attestors.tpm.pcrs";
  LANYARD_TRY(auto items, r.strings(f, path));
  std::vector<uint32_t> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [text, node] = items[i];
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v > kMaxPcr) {
      return r.error(node, indexPath(path, i),
                     text::quote(text, 16) + " is not a PCR index (0 to 23)");
    }
    if (std::find(out.begin(), out.end(), v) != out.end()) {
      return r.error(node, indexPath(path, i), "PCR " + text + " is listed twice");
    }
    out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> readTpm(const ConfigReader& r, const Field& f, Config& c) {
  TpmNodeConfig t;
  if (f.value.IsNull()) {
    c.tpm = t;
    return {};
  }
  LANYARD_TRY(Fields tf, r.fields(f, "node_attestors.tpm", kTpmKeys));
  if (const Field* v = tf.find("tcti"); v != nullptr) {
    LANYARD_TRY(t.tcti, r.string(*v, "node_attestors.tpm.tcti"));
    if (t.tcti.empty() || t.tcti.find('\0') != std::string::npos) {
      return r.error(*v, "node_attestors.tpm.tcti",
                     "want a TCTI such as device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321");
    }
  }
  if (const Field* v = tf.find("pcrs"); v != nullptr) {
    LANYARD_TRY(t.pcrs, readPcrs(r, *v));
  }
  if (const Field* v = tf.find("ek_handle"); v != nullptr) {
    LANYARD_TRY(std::string text, r.string(*v, "node_attestors.tpm.ek_handle"));
    uint32_t h = 0;
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    auto [end, ec] =
        std::from_chars(text.data() + (hex ? 2 : 0), text.data() + text.size(), h, hex ? 16 : 10);
    if (ec != std::errc() || end != text.data() + text.size() || h < 0x81000000U ||
        h > 0x81FFFFFFU) {
      return r.error(*v, "node_attestors.tpm.ek_handle",
                     text::quote(text, 24) +
                         " is not a persistent handle (0x81000000 to 0x81ffffff, e.g. 0x81010001)");
    }
    t.ekHandle = h;
  }
  if (const Field* v = tf.find("ek_ca_bundle"); v != nullptr) {
    LANYARD_TRY(t.ekCaBundle, r.path(*v, "node_attestors.tpm.ek_ca_bundle"));
  }
  if (const Field* v = tf.find("remeasure_interval"); v != nullptr) {
    LANYARD_TRY(t.remeasureInterval, r.duration(*v, "node_attestors.tpm.remeasure_interval"));
    if (t.remeasureInterval < Seconds(1)) {
      return r.error(*v, "node_attestors.tpm.remeasure_interval", "must be at least 1s");
    }
  }
  c.tpm = t;
  return {};
}

}  // namespace

Result<void> readNodeAttestors(const ConfigReader& r, const Field& f, Config& c) {
  if (f.value.IsNull()) {
    return {};
  }
  LANYARD_TRY(Fields nf, r.fields(f, "node_attestors", kNodeAttestorKeys));
  if (const Field* t = nf.find("tpm"); t != nullptr) {
    LANYARD_TRY_VOID(readTpm(r, *t, c));
  }
  return {};
}

}  // namespace lanyard::daemon::config_detail
