#pragma once
// Reads yaml-cpp nodes into config values. Every problem (wrong type, unknown key, bad value)
// becomes an error in Diagnostics and the reader carries on, so one load reports them all.
// Control thread only.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fulcrum/config/config.h"
#include "fulcrum/config/diagnostics.h"

namespace fulcrum::config {

// One value of the tree with its key path ("pools[1].backends[0].weight") and the position
// errors point at: the key for a map entry (the path names the key), else the value.
struct Field {
  std::string path;
  YAML::Node value;
  YAML::Mark mark;
};

std::string childPath(const std::string& parent, std::string_view key);
std::string indexPath(const std::string& parent, size_t index);
// "a list", "a map", "nothing", "\"text\"": for "expected X, got Y".
std::string describeNode(const YAML::Node& node);

// A map opened with its known keys. Reports once a non-map value, every unknown key (with a
// did-you-mean hint) and every repeated key. A null value (`headers:` with nothing after it)
// reads as an empty map, so every key keeps its default.
class MapReader {
 public:
  // `nested`: keys that belong one level down, as (key, the key they go under); an unknown key
  // found there is reported with where it goes ("routes[0].host" -> "match: { host: ... }").
  MapReader(Diagnostics& diag, const Field& field, std::vector<std::string_view> known,
            std::vector<std::pair<std::string_view, std::string_view>> nested = {});

  bool valid() const { return valid_; }
  const Field& self() const { return self_; }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  std::optional<Field> get(std::string_view key) const;
  // Reports "<path>.<key>: required" at the map when the key is absent.
  std::optional<Field> require(std::string_view key, std::string_view why = {}) const;

 private:
  const Field* find(std::string_view key) const;

  Diagnostics& diag_;
  Field self_;
  bool valid_ = false;
  std::vector<std::pair<std::string, Field>> entries_;
};

// The elements of a list. Reports a non-list, and a list shorter than `at_least` with
// `too_short` as the message.
std::vector<Field> readList(Diagnostics& diag, const Field& field, size_t at_least = 0,
                            std::string_view too_short = {});

// A scalar as text. `allow_empty` false rejects "" with "must not be empty".
bool readString(Diagnostics& diag, const Field& field, std::string& out, bool allow_empty = false);
bool readBool(Diagnostics& diag, const Field& field, bool& out);
// An integer in [min, max]: "must be between 0 and 1000, got 5000".
bool readInt(Diagnostics& diag, const Field& field, int64_t min, int64_t max, int64_t& out);
template <class T>
bool readInt(Diagnostics& diag, const Field& field, int64_t min, int64_t max, T& out) {
  int64_t value = 0;
  if (!readInt(diag, field, min, max, value)) return false;
  out = static_cast<T>(value);
  return true;
}
// A duration ("250ms", "2s", "1m", "1h"); `allow_zero` false requires more than 0.
bool readDuration(Diagnostics& diag, const Field& field, bool allow_zero, Duration& out);
bool readSize(Diagnostics& diag, const Field& field, uint64_t min, uint64_t max, uint64_t& out);
// One of `choices`; `index` is its position. A near miss gets a did-you-mean hint.
bool readChoice(Diagnostics& diag, const Field& field, const std::vector<std::string_view>& choices,
                size_t& index);
// A list of strings (each non-empty).
bool readStringList(Diagnostics& diag, const Field& field, std::vector<std::string>& out);

// A name of a listener or pool: letters, digits, '-', '_', '.'.
bool readName(Diagnostics& diag, const Field& field, std::string& out);

}  // namespace fulcrum::config
