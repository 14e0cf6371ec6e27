// SPDX-License-Identifier: Apache-2.0
// Loading the configuration file: YAML parsing (the one place yaml-cpp exceptions are caught,
// STYLE.md §4), the top-level keys and the checks that span sections.
#include "daemon/config.h"

#include <array>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "common/file_io.h"
#include "common/text.h"
#include "daemon/config_reader.h"
#include "daemon/config_sections.h"
#include "daemon/duration.h"
#include "daemon/entry.h"

namespace lanyard::daemon {
namespace {

using config_detail::checkSvidTtl;

constexpr size_t kMaxConfigBytes = 1 << 20;

constexpr std::array<std::string_view, 12> kTopKeys = {
    "trust_domain", "socket_path", "data_dir", "log_level", "log_format",     "x509_svid_ttl",
    "jwt_svid_ttl", "authority",   "health",   "attestors", "node_attestors", "entries"};

Result<svid::TrustDomain> readTrustDomain(const ConfigReader& r, const Fields& top) {
  const Field* f = top.find("trust_domain");
  if (f == nullptr) {
    return r.error(top.node(), "trust_domain",
                   "missing: every configuration names its trust domain "
                   "(e.g. trust_domain: example.org)");
  }
  LANYARD_TRY(std::string name, r.string(*f, "trust_domain"));
  // TrustDomain::parse() reduces a full ID to its trust domain (ID-9); a config names it bare.
  if (name.find(":/") != std::string::npos) {
    return r.error(*f, "trust_domain",
                   "write the bare name (e.g. example.org), not a SPIFFE ID or URL");
  }
  // ID-2, ID-3, ID-5 and ID-7 (no leading or trailing '.', no "..").
  auto td = svid::TrustDomain::parseForConfig(name);
  if (!td) {
    return r.error(*f, "trust_domain", bareReason(td.error()));
  }
  return *td;
}

Result<void> readLogging(const ConfigReader& r, const Fields& top, Config& c) {
  if (const Field* f = top.find("log_level"); f != nullptr) {
    LANYARD_TRY(c.logLevel, r.string(*f, "log_level"));
    if (c.logLevel != "debug" && c.logLevel != "info" && c.logLevel != "warn" &&
        c.logLevel != "error") {
      return r.error(*f, "log_level",
                     "unknown level \"" + c.logLevel + "\" (want debug, info, warn or error)");
    }
  }
  if (const Field* f = top.find("log_format"); f != nullptr) {
    LANYARD_TRY(std::string format, r.string(*f, "log_format"));
    if (format == "text") {
      c.logFormat = log::Format::Text;
    } else if (format == "json") {
      c.logFormat = log::Format::Json;
    } else {
      return r.error(*f, "log_format", "unknown format \"" + format + "\" (want text or json)");
    }
  }
  return {};
}

Result<void> readPaths(const ConfigReader& r, const Fields& top, Config& c) {
  if (const Field* f = top.find("socket_path"); f != nullptr) {
    LANYARD_TRY(c.socketPath, r.path(*f, "socket_path"));
    if (c.socketPath.size() > kMaxSocketPathLength) {
      return r.error(*f, "socket_path",
                     "\"" + c.socketPath + "\" is " + std::to_string(c.socketPath.size()) +
                         " bytes; a Unix socket path holds at most " +
                         std::to_string(kMaxSocketPathLength));
    }
  }
  if (const Field* f = top.find("data_dir"); f != nullptr) {
    LANYARD_TRY(c.dataDir, r.path(*f, "data_dir"));
  }
  return {};
}

// The field at a dotted path below `authority` ("ca_ttl", "tpm.issuing_ttl"), when written.
// readAuthority() has checked the section, so its keys are distinct strings.
std::optional<Field> authorityField(const Fields& top, std::string_view dotted) {
  const Field* a = top.find("authority");
  if (a == nullptr) {
    return std::nullopt;
  }
  YAML::Node map = a->value;
  while (true) {
    const size_t dot = dotted.find('.');
    const std::string_view part = dotted.substr(0, dot);
    if (!map.IsMap()) {
      return std::nullopt;
    }
    std::optional<Field> found;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (it->first.Scalar() == part) {
        found = Field{.key = it->first, .value = it->second};
      }
    }
    if (!found || dot == std::string_view::npos) {
      return found;
    }
    map = found->value;
    dotted.remove_prefix(dot + 1);
  }
}

// Daemon-wide SVID TTLs. When a TTL is left at its default but the CA lifetime that caps it
// (authority.ca_ttl, or authority.tpm.issuing_ttl for X.509) is too short for it, the error
// points at that key, the one the operator did write.
Result<void> readTtls(const ConfigReader& r, const Fields& top, Config& c) {
  for (auto [key, ttl] :
       {std::pair{"x509_svid_ttl", &c.x509SvidTtl}, std::pair{"jwt_svid_ttl", &c.jwtSvidTtl}}) {
    if (const Field* f = top.find(key); f != nullptr) {
      LANYARD_TRY(*ttl, r.duration(*f, key));
      LANYARD_TRY_VOID(checkSvidTtl(r, *f, key, *ttl, c.authority));
      continue;
    }
    auto [caTtl, caKey] = config_detail::signingCaTtl(c.authority, key);
    const std::string_view caPath = std::string_view(caKey).substr(sizeof("authority.") - 1);
    std::optional<Field> caField = authorityField(top, caPath);
    if (caField && *ttl > caTtl / 2) {
      return r.error(*caField, caKey,
                     formatDuration(caTtl) + " is less than twice " + key + " (" +
                         formatDuration(*ttl) + ", the default): lower " + key + " or raise " +
                         std::string(caPath.substr(caPath.rfind('.') + 1)));
    }
  }
  return {};
}

Result<Config> buildConfig(const ConfigReader& r, const YAML::Node& root) {
  LANYARD_TRY(Fields top, r.fields(root, "", kTopKeys));
  LANYARD_TRY(svid::TrustDomain td, readTrustDomain(r, top));
  Config c{.trustDomain = td};
  LANYARD_TRY_VOID(readPaths(r, top, c));
  LANYARD_TRY_VOID(readLogging(r, top, c));
  if (const Field* f = top.find("authority"); f != nullptr) {
    LANYARD_TRY_VOID(config_detail::readAuthority(r, *f, c));
  }
  LANYARD_TRY_VOID(readTtls(r, top, c));
  if (const Field* f = top.find("health"); f != nullptr) {
    LANYARD_TRY_VOID(config_detail::readHealth(r, *f, c));
  }
  if (const Field* f = top.find("attestors"); f != nullptr) {
    LANYARD_TRY_VOID(config_detail::readAttestors(r, *f, c));
  }
  if (const Field* f = top.find("node_attestors"); f != nullptr) {
    LANYARD_TRY_VOID(config_detail::readNodeAttestors(r, *f, c));
  }
  if (const Field* f = top.find("entries"); f != nullptr) {
    LANYARD_TRY_VOID(config_detail::readEntries(r, *f, c));
  }
  c.authority.trustDomain = c.trustDomain;
  c.authority.dataDir = c.dataDir;
  return c;
}

// The directory relative paths resolve against: the config file's, made absolute.
std::string baseDirOf(const std::string& sourceName) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(sourceName).parent_path();
  std::filesystem::path abs =
      dir.empty() ? std::filesystem::current_path(ec) : std::filesystem::absolute(dir, ec);
  if (ec) {
    return dir.empty() ? "." : dir.string();
  }
  std::string s = abs.string();
  while (s.size() > 1 && s.back() == '/') {
    s.pop_back();
  }
  return s;
}

Unexpected syntaxError(const std::string& source, const YAML::Exception& e) {
  return fail(Code::InvalidArgument,
              source + ":" + std::to_string(e.mark.line + 1) + ": parsing YAML: " + e.msg);
}

// Sees where each document starts, and nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Rejects a stream of more than one document. Counts them itself rather than with LoadAll():
// in yaml-cpp 0.7 LoadAll() loops forever, allocating, on a stray ',' (jbeder/yaml-cpp#1040,
// fixed upstream by #1319), because the parser reports a new document without consuming
// anything. Here a document that starts where the previous one did ends the loop. Throws
// YAML::ParserException on a syntax error.
Result<void> checkOneDocument(std::string_view text, const std::string& source) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentStarts starts;
  while (starts.marks.size() < 2 && parser.HandleNextDocument(starts)) {
  }
  if (starts.marks.size() < 2) {
    return {};
  }
  const YAML::Mark& second = starts.marks[1];
  const std::string where = source + ":" + std::to_string(second.line + 1) + ": ";
  if (second.pos == starts.marks[0].pos) {
    return fail(Code::InvalidArgument, where + "parsing YAML: unexpected character " +
                                           text::quote(text.substr(second.pos, 1)));
  }
  return fail(Code::InvalidArgument,
              where + "more than one YAML document (---): write one configuration");
}

}  // namespace

Result<Config> parseConfig(std::string_view yamlText, const std::string& sourceName) {
  if (yamlText.size() > kMaxConfigBytes) {
    return fail(Code::InvalidArgument, sourceName + ": the file is " +
                                           std::to_string(yamlText.size()) +
                                           " bytes, more than the 1 MiB a configuration may be");
  }
  YAML::Node root;
  try {
    LANYARD_TRY_VOID(checkOneDocument(yamlText, sourceName));
    root = YAML::Load(std::string(yamlText));
  } catch (const YAML::Exception& e) {
    return syntaxError(sourceName, e);
  }
  if (root.IsNull()) {
    return fail(Code::InvalidArgument,
                sourceName + ": empty configuration (at least trust_domain is required)");
  }
  ConfigReader r(sourceName, baseDirOf(sourceName));
  // ConfigReader checks each node's type before reading it, so this is a backstop that turns a
  // missed case into an error instead of a crash.
  try {
    return buildConfig(r, root);
  } catch (const YAML::Exception& e) {
    return fail(Code::Internal, sourceName + ": reading YAML: " + e.msg);
  }
}

Result<Config> loadConfig(const std::string& path) {
  // Refuse a huge regular file before reading it; pipes (/dev/fd/N) are read as they come.
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) &&
      std::filesystem::file_size(path, ec) > kMaxConfigBytes && !ec) {
    return fail(Code::InvalidArgument, "loading configuration: " + path +
                                           " is more than the 1 MiB a configuration may be");
  }
  auto text = fileio::read(path);
  if (!text) {
    return fail(text.error().wrap("loading configuration"));
  }
  return parseConfig(*text, path);
}

}  // namespace lanyard::daemon
