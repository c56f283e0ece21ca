#pragma once
// Collects every error and warning of one config load with its position in the file.
// Control thread only (config loading).

#include <yaml-cpp/mark.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "fulcrum/config/config_loader.h"

namespace fulcrum::config {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  void error(const YAML::Mark& mark, const std::string& path, std::string message);
  // For checks that run after parsing (cross references): the position is the one recorded
  // for `path` while reading, or for its nearest recorded parent.
  void error(const std::string& path, std::string message);

  // Warnings are final strings: "file:line:col: path: message".
  void warning(const YAML::Mark& mark, const std::string& path, const std::string& message);
  void warning(const std::string& path, const std::string& message);
  void addWarning(std::string text) { warnings_.push_back(std::move(text)); }

  // Where `path` ("pools[1].name") was seen; the reader records every key and list element.
  void remember(const std::string& path, const YAML::Mark& mark);
  // "file:line:col: path", as an error at `mark` would start.
  std::string position(const YAML::Mark& mark, const std::string& path) const;

  bool hasErrors() const { return !errors_.empty(); }
  size_t errorCount() const { return errors_.size(); }
  // Errors sorted by position (file order); errors without a position first.
  std::vector<ConfigError> takeErrors();
  std::vector<std::string> takeWarnings() { return std::move(warnings_); }

 private:
  YAML::Mark lookup(const std::string& path) const;
  ConfigError make(const YAML::Mark& mark, const std::string& path, std::string message) const;

  std::string file_;
  std::vector<ConfigError> errors_;
  std::vector<std::string> warnings_;
  std::unordered_map<std::string, YAML::Mark> positions_;
};

}  // namespace fulcrum::config
