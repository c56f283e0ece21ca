#include "fulcrum/config/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

namespace fulcrum::config {

ConfigError Diagnostics::make(const YAML::Mark& mark, const std::string& path,
                              std::string message) const {
  ConfigError e;
  e.file = file_;
  // yaml-cpp marks are 0-based; an empty document's mark is -1 (point at its start).
  if (mark.line >= 0 || mark.column >= 0) {
    e.line = std::max(mark.line, 0) + 1;
    e.column = std::max(mark.column, 0) + 1;
  }
  e.path = path;
  e.message = std::move(message);
  return e;
}

void Diagnostics::error(const YAML::Mark& mark, const std::string& path, std::string message) {
  errors_.push_back(make(mark, path, std::move(message)));
}

void Diagnostics::error(const std::string& path, std::string message) {
  error(lookup(path), path, std::move(message));
}

void Diagnostics::warning(const YAML::Mark& mark, const std::string& path,
                          const std::string& message) {
  warnings_.push_back(make(mark, path, message).toString());
}

void Diagnostics::warning(const std::string& path, const std::string& message) {
  warning(lookup(path), path, message);
}

std::string Diagnostics::position(const YAML::Mark& mark, const std::string& path) const {
  std::string text = make(mark, path, "").toString();
  while (!text.empty() && (text.back() == ' ' || text.back() == ':')) text.pop_back();
  return text;
}

void Diagnostics::remember(const std::string& path, const YAML::Mark& mark) {
  positions_.emplace(path, mark);
}

YAML::Mark Diagnostics::lookup(const std::string& path) const {
  std::string p = path;
  while (true) {
    auto it = positions_.find(p);
    if (it != positions_.end()) return it->second;
    size_t cut = p.find_last_of(".[");
    if (cut == std::string::npos || cut == 0) break;
    p.resize(cut);
  }
  auto root = positions_.find("");
  if (root != positions_.end()) return root->second;
  YAML::Mark none = YAML::Mark::null_mark();  // line 0 in the error: no position
  return none;
}

std::vector<ConfigError> Diagnostics::takeErrors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return std::move(errors_);
}

}  // namespace fulcrum::config
