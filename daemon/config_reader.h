// SPDX-License-Identifier: Apache-2.0
// ConfigReader: typed, non-throwing reads of a parsed YAML tree whose errors name the file,
// the line and the key path ("config.yaml:12: entries[3].spiffe_id: ...").
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/clock.h"
#include "common/result.h"

namespace lanyard::daemon {

/// One key of a YAML map: the key node (whose line errors report) and its value.
struct Field {
  YAML::Node key{};
  YAML::Node value{};
};

/// The keys of one map, each known and present once.
class Fields {
 public:
  /// The value of `name`, or nullptr when absent.
  const Field* find(std::string_view name) const;
  /// The map itself, for errors about a missing key.
  const YAML::Node& node() const { return node_; }

 private:
  friend class ConfigReader;
  YAML::Node node_{};
  std::vector<std::pair<std::string, Field>> fields_{};
};

/// Reads values out of one configuration document. Every method checks the node's type
/// before touching it, so none of them makes yaml-cpp throw. Borrows nothing; single-threaded.
class ConfigReader {
 public:
  /// `source` names the file in errors; relative paths resolve against `baseDir` (absolute).
  ConfigReader(std::string source, std::string baseDir)
      : source_(std::move(source)), baseDir_(std::move(baseDir)) {}

  /// InvalidArgument "source:LINE: path: why", LINE being `at`'s line (1-based).
  Unexpected error(const YAML::Node& at, std::string_view path, std::string_view why) const;
  /// As error(), for a field: the line of its key.
  Unexpected error(const Field& f, std::string_view path, std::string_view why) const {
    return error(f.key, path, why);
  }

  /// Checks that `node` is a map whose keys are distinct strings from `known`.
  Result<Fields> fields(const YAML::Node& node, std::string_view path,
                        std::span<const std::string_view> known) const;
  /// As above for a field's value; a value that is not a map is reported at its key's line.
  Result<Fields> fields(const Field& f, std::string_view path,
                        std::span<const std::string_view> known) const;
  /// A scalar, as written (quoted or not).
  Result<std::string> string(const Field& f, std::string_view path) const;
  /// A duration ("90s", "5m", "1h", "7d").
  Result<Seconds> duration(const Field& f, std::string_view path) const;
  /// A sequence of scalars, each with its node (for the line of an item's error).
  Result<std::vector<std::pair<std::string, YAML::Node>>> strings(const Field& f,
                                                                  std::string_view path) const;
  /// A file-system path: non-empty, no control characters, no leading '~'; a relative one is
  /// joined to the config file's directory.
  Result<std::string> path(const Field& f, std::string_view path) const;

 private:
  Result<void> checkMapKey(const YAML::Node& key, std::string_view path,
                           std::span<const std::string_view> known, const Fields& seen) const;

  std::string source_;
  std::string baseDir_;
};

/// "parent.key", or "key" at the top level.
std::string joinPath(std::string_view parent, std::string_view key);
/// "parent[index]".
std::string indexPath(std::string_view parent, size_t index);
/// "a map", "a sequence", "a string" or "null", for "expected X, got Y" messages.
const char* describeType(const YAML::Node& node);

}  // namespace lanyard::daemon
