#pragma once
// YAML -> validated Config. Control thread only (and `--check`). Never partially succeeds:
// either every key is valid and a Config is returned, or every error found is returned.

#include <string>
#include <vector>

#include "fulcrum/config/config.h"

namespace fulcrum::config {

struct ConfigError {
  std::string file;
  int line = 0;         // 1-based; 0 when the error has no position (file unreadable)
  int column = 0;       // 1-based
  std::string path;     // "pools[1].backends[0].weight"
  std::string message;  // "must be between 0 and 1000, got 5000"

  // "conf/app.yaml:14:9: pools[1].backends[0].weight: must be between 0 and 1000, got 5000"
  std::string toString() const;
};

struct LoadResult {
  ConfigConstSharedPtr config;        // null when errors is not empty
  std::vector<ConfigError> errors;    // every error, in file order
  std::vector<std::string> warnings;  // e.g. a feature that is parsed but not implemented yet
  bool ok() const { return config != nullptr; }
};

// Reads and validates `path`. DNS names of backends are resolved here (blocking: control
// thread only). `check_files` also opens the certificates and keys the config names and checks that
// the access log file can be written.
LoadResult loadConfigFile(const std::string& path, bool check_files = true);

// The same from YAML text; `name` is used as the file name in errors. For tests.
LoadResult loadConfigString(const std::string& yaml, const std::string& name = "<string>",
                            bool check_files = true);

// Parses "250ms", "2s", "1m", "1h". Returns false on anything else.
bool parseDuration(const std::string& text, Duration& out);
// Parses "512", "16KiB", "10MiB", "1GiB" (also KB/MB/GB as powers of 10? no: only the binary
// units CONFIG.md names, plain bytes, and "k"-less integers).
bool parseSize(const std::string& text, uint64_t& out);
// Parses "HOST:PORT" / "[IPv6]:PORT"; resolves DNS names when `resolve` is set. On failure
// `error` says why.
bool parseAddress(const std::string& text, bool resolve, Address& out, std::string& error);

}  // namespace fulcrum::config
