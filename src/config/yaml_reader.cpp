// Typed reads from yaml-cpp nodes with error collection (see yaml_reader.h).
#include "fulcrum/config/yaml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "fulcrum/config/config_loader.h"
#include "fulcrum/config/did_you_mean.h"
#include "fulcrum/config/value_parsers.h"

namespace fulcrum::config {

std::string childPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string indexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string describeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "\"" + node.Scalar() + "\"";
    default:
      return "nothing";
  }
}

MapReader::MapReader(Diagnostics& diag, const Field& field, std::vector<std::string_view> known,
                     std::vector<std::pair<std::string_view, std::string_view>> nested)
    : diag_(diag), self_(field) {
  if (field.value.IsNull()) {
    valid_ = true;
    return;
  }
  if (!field.value.IsMap()) {
    diag_.error(field.mark, field.path, "expected a map, got " + describeNode(field.value));
    return;
  }
  valid_ = true;
  for (auto it = field.value.begin(); it != field.value.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: it-> returns a temporary proxy
    if (!key.IsScalar()) {
      diag_.error(key.Mark(), field.path, "a key must be a name, got " + describeNode(key));
      continue;
    }
    std::string name = key.Scalar();
    std::string path = childPath(field.path, name);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      auto under = std::find_if(nested.begin(), nested.end(),
                                [&](const auto& n) { return n.first == name; });
      std::string hint = didYouMean(name, known);
      if (under != nested.end()) {
        std::string parent(under->second);
        hint = " (it goes under \"" + parent + "\": " + parent + ": { " + name + ": ... })";
      }
      diag_.error(key.Mark(), path, "unknown key" + hint);
      continue;
    }
    if (find(name) != nullptr) {
      diag_.error(key.Mark(), path, "repeated key (only one is allowed)");
      continue;
    }
    diag_.remember(path, key.Mark());
    entries_.emplace_back(name, Field{path, it->second, key.Mark()});
  }
}

const Field* MapReader::find(std::string_view key) const {
  for (const auto& [name, field] : entries_) {
    if (name == key) return &field;
  }
  return nullptr;
}

std::optional<Field> MapReader::get(std::string_view key) const {
  const Field* f = find(key);
  if (f == nullptr) return std::nullopt;
  return *f;
}

std::optional<Field> MapReader::require(std::string_view key, std::string_view why) const {
  const Field* f = find(key);
  if (f != nullptr) return *f;
  if (valid_) {
    diag_.error(self_.mark, childPath(self_.path, key),
                why.empty() ? std::string("required") : "required " + std::string(why));
  }
  return std::nullopt;
}

std::vector<Field> readList(Diagnostics& diag, const Field& field, size_t at_least,
                            std::string_view too_short) {
  std::vector<Field> out;
  if (!field.value.IsSequence()) {
    diag.error(field.mark, field.path, "expected a list, got " + describeNode(field.value));
    return out;
  }
  size_t index = 0;
  for (auto it = field.value.begin(); it != field.value.end(); ++it, ++index) {
    std::string path = indexPath(field.path, index);
    diag.remember(path, it->Mark());
    out.push_back(Field{path, *it, it->Mark()});
  }
  if (out.size() < at_least) {
    diag.error(field.mark, field.path,
               too_short.empty() ? fmt::format("must have at least {} entries", at_least)
                                 : std::string(too_short));
  }
  return out;
}

bool readString(Diagnostics& diag, const Field& field, std::string& out, bool allow_empty) {
  if (!field.value.IsScalar()) {
    diag.error(field.mark, field.path, "expected a string, got " + describeNode(field.value));
    return false;
  }
  if (!allow_empty && field.value.Scalar().empty()) {
    diag.error(field.mark, field.path, "must not be empty");
    return false;
  }
  out = field.value.Scalar();
  return true;
}

bool readBool(Diagnostics& diag, const Field& field, bool& out) {
  bool value = false;
  if (!field.value.IsScalar() || !YAML::convert<bool>::decode(field.value, value)) {
    diag.error(field.mark, field.path, "expected true or false, got " + describeNode(field.value));
    return false;
  }
  out = value;
  return true;
}

bool readInt(Diagnostics& diag, const Field& field, int64_t min, int64_t max, int64_t& out) {
  auto range = [&](bool too_small) {
    // A limit that is only the storage type's says nothing to a user below it.
    if (max >= int64_t{std::numeric_limits<uint32_t>::max()}) {
      return too_small ? fmt::format("must be at least {}", min)
                       : fmt::format("must be at most {}", max);
    }
    return fmt::format("must be between {} and {}", min, max);
  };
  if (!field.value.IsScalar()) {
    diag.error(field.mark, field.path, "expected an integer, got " + describeNode(field.value));
    return false;
  }
  const std::string& text = field.value.Scalar();
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    diag.error(field.mark, field.path, range(!text.empty() && text[0] == '-') + ", got " + text);
    return false;
  }
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    diag.error(field.mark, field.path, "expected an integer, got \"" + text + "\"");
    return false;
  }
  if (value < min || value > max) {
    diag.error(field.mark, field.path, range(value < min) + ", got " + text);
    return false;
  }
  out = value;
  return true;
}

bool readDuration(Diagnostics& diag, const Field& field, bool allow_zero, Duration& out) {
  std::string text;
  if (!field.value.IsScalar()) {
    diag.error(field.mark, field.path, "expected a duration, got " + describeNode(field.value));
    return false;
  }
  text = field.value.Scalar();
  Duration value{};
  if (!parseDuration(text, value)) {
    diag.error(field.mark, field.path,
               "invalid duration \"" + text +
                   "\" (an integer and a unit: ms, s, m or h, e.g. 250ms, 2s, 1m, 1h)");
    return false;
  }
  if (!allow_zero && value.count() == 0) {
    diag.error(field.mark, field.path, "must be greater than 0, got " + text);
    return false;
  }
  out = value;
  return true;
}

bool readSize(Diagnostics& diag, const Field& field, uint64_t min, uint64_t max, uint64_t& out) {
  if (!field.value.IsScalar()) {
    diag.error(field.mark, field.path, "expected a size, got " + describeNode(field.value));
    return false;
  }
  const std::string& text = field.value.Scalar();
  uint64_t value = 0;
  if (!parseSize(text, value)) {
    diag.error(field.mark, field.path,
               "invalid size \"" + text +
                   "\" (bytes, or an integer with KiB, MiB or GiB, e.g. 512, 16KiB, 10MiB)");
    return false;
  }
  if (value < min || value > max) {
    diag.error(field.mark, field.path,
               fmt::format("must be between {} and {} bytes, got {}", min, max, text));
    return false;
  }
  out = value;
  return true;
}

bool readChoice(Diagnostics& diag, const Field& field, const std::vector<std::string_view>& choices,
                size_t& index) {
  std::string list;
  for (auto c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  if (!field.value.IsScalar()) {
    diag.error(field.mark, field.path,
               "expected one of " + list + ", got " + describeNode(field.value));
    return false;
  }
  const std::string& text = field.value.Scalar();
  auto it = std::find(choices.begin(), choices.end(), text);
  if (it == choices.end()) {
    diag.error(field.mark, field.path,
               "must be one of " + list + ", got \"" + text + "\"" + didYouMean(text, choices));
    return false;
  }
  index = static_cast<size_t>(it - choices.begin());
  return true;
}

bool readStringList(Diagnostics& diag, const Field& field, std::vector<std::string>& out) {
  std::vector<std::string> values;
  bool ok = field.value.IsSequence();
  for (const Field& element : readList(diag, field)) {
    std::string value;
    if (readString(diag, element, value)) {
      values.push_back(value);
    } else {
      ok = false;
    }
  }
  if (ok) out = std::move(values);
  return ok;
}

bool readName(Diagnostics& diag, const Field& field, std::string& out) {
  std::string name;
  if (!readString(diag, field, name)) return false;
  bool valid = std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
  if (!valid) {
    diag.error(field.mark, field.path,
               "\"" + name + "\" is not a valid name (use letters, digits, '-', '_' and '.')");
    return false;
  }
  out = name;
  return true;
}

}  // namespace fulcrum::config
