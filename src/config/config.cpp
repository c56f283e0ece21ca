#include "fulcrum/config/config.h"

#include <fmt/format.h>

#include "fulcrum/config/config_loader.h"

namespace fulcrum::config {

const PoolConfig* Config::findPool(const std::string& name) const {
  for (const auto& pool : pools) {
    if (pool.name == name) return &pool;
  }
  return nullptr;
}

std::string ConfigError::toString() const {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

}  // namespace fulcrum::config
