// SPDX-License-Identifier: Apache-2.0
// ConfigReader: typed reads of a YAML tree with file:line:key-path errors, without exceptions.
#include "daemon/config_reader.h"

#include <algorithm>
#include <filesystem>
#include <string>

#include "common/text.h"
#include "daemon/duration.h"

namespace lanyard::daemon {
namespace {

bool hasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string knownList(std::span<const std::string_view> known) {
  std::string out;
  for (std::string_view k : known) {
    out += out.empty() ? "" : ", ";
    out += k;
  }
  return out;
}

}  // namespace

std::string joinPath(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

std::string indexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

const char* describeType(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "a string";
    default:
      return "null";
  }
}

const Field* Fields::find(std::string_view name) const {
  for (const auto& [n, f] : fields_) {
    if (n == name) {
      return &f;
    }
  }
  return nullptr;
}

Unexpected ConfigReader::error(const YAML::Node& at, std::string_view path,
                               std::string_view why) const {
  std::string msg = source_ + ":" + std::to_string(at.Mark().line + 1) + ": ";
  if (!path.empty()) {
    msg += std::string(path) + ": ";
  }
  return fail(Code::InvalidArgument, msg + std::string(why));
}

Result<void> ConfigReader::checkMapKey(const YAML::Node& key, std::string_view path,
                                       std::span<const std::string_view> known,
                                       const Fields& seen) const {
  if (!key.IsScalar()) {
    return error(key, path, "a key must be a string, not " + std::string(describeType(key)));
  }
  const std::string& name = key.Scalar();
  std::string where = joinPath(path, name.size() <= 64 ? name : name.substr(0, 64) + "...");
  if (hasControl(name)) {
    where = joinPath(path, text::quote(name, 64));
  }
  if (std::find(known.begin(), known.end(), name) == known.end()) {
    return error(key, where, "unknown key (known keys here: " + knownList(known) + ")");
  }
  if (const Field* first = seen.find(name); first != nullptr) {
    return error(
        key, where,
        "key appears twice (first on line " + std::to_string(first->key.Mark().line + 1) + ")");
  }
  return {};
}

Result<Fields> ConfigReader::fields(const YAML::Node& node, std::string_view path,
                                    std::span<const std::string_view> known) const {
  if (!node.IsMap()) {
    return error(node, path, "expected a map, got " + std::string(describeType(node)));
  }
  Fields out;
  out.node_ = node;
  for (auto it = node.begin(); it != node.end(); ++it) {
    LANYARD_TRY_VOID(checkMapKey(it->first, path, known, out));
    out.fields_.emplace_back(it->first.Scalar(), Field{.key = it->first, .value = it->second});
  }
  return out;
}

Result<Fields> ConfigReader::fields(const Field& f, std::string_view path,
                                    std::span<const std::string_view> known) const {
  if (!f.value.IsMap()) {
    return error(f, path, "expected a map, got " + std::string(describeType(f.value)));
  }
  return fields(f.value, path, known);
}

Result<std::string> ConfigReader::string(const Field& f, std::string_view path) const {
  if (!f.value.IsScalar()) {
    return error(f, path, "expected a string, got " + std::string(describeType(f.value)));
  }
  return f.value.Scalar();
}

Result<Seconds> ConfigReader::duration(const Field& f, std::string_view path) const {
  LANYARD_TRY(std::string text, string(f, path));
  auto d = parseDuration(text);
  if (!d) {
    return error(f, path, d.error().message);
  }
  return *d;
}

Result<std::vector<std::pair<std::string, YAML::Node>>> ConfigReader::strings(
    const Field& f, std::string_view path) const {
  if (!f.value.IsSequence()) {
    return error(f, path, "expected a sequence, got " + std::string(describeType(f.value)));
  }
  std::vector<std::pair<std::string, YAML::Node>> out;
  size_t i = 0;
  for (auto it = f.value.begin(); it != f.value.end(); ++it, ++i) {
    const YAML::Node item = *it;
    if (!item.IsScalar()) {
      // A null item has no line of its own: report the sequence's key.
      const YAML::Node& at = item.IsNull() ? f.key : item;
      return error(at, indexPath(path, i),
                   "expected a string, got " + std::string(describeType(item)));
    }
    out.emplace_back(item.Scalar(), item);
  }
  return out;
}

Result<std::string> ConfigReader::path(const Field& f, std::string_view path) const {
  LANYARD_TRY(std::string text, string(f, path));
  if (text.empty()) {
    return error(f, path, "empty path");
  }
  if (hasControl(text)) {
    return error(f, path, "path " + text::quote(text) + " contains a control character");
  }
  if (text[0] == '~') {
    return error(f, path, "'~' is not expanded: write the full path");
  }
  std::filesystem::path p(text);
  if (p.is_absolute()) {
    return text;
  }
  // Relative paths are relative to the config file's directory, not to the daemon's working
  // directory. "." components are dropped; ".." are kept (symlinks make them non-lexical).
  std::filesystem::path out(baseDir_);
  for (const auto& part : p) {
    if (part != "." && !part.empty()) {
      out /= part;
    }
  }
  return out.string();
}

}  // namespace lanyard::daemon
