// Entry points of the loader: YAML text -> Config, plus the top-level keys that are not
// listeners or pools (workers, admin, shutdown, log).
#include "fulcrum/config/config_loader.h"

#include <yaml-cpp/depthguard.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "fulcrum/config/diagnostics.h"
#include "fulcrum/config/feature_warnings.h"
#include "fulcrum/config/section_parsers.h"
#include "fulcrum/config/value_parsers.h"
#include "fulcrum/config/yaml_reader.h"

namespace fulcrum::config {
namespace {

constexpr int64_t kMaxWorkers = 256;
constexpr const char* kDefaultAdminListen = "127.0.0.1:9901";

uint32_t cpuCount() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;  // 0 means "unknown": one worker still runs
}

void parseWorkers(Diagnostics& diag, const Field& field, uint32_t& out) {
  const YAML::Node& v = field.value;
  if (v.IsScalar() && v.Scalar() == "auto") {
    out = cpuCount();
    return;
  }
  int64_t n = 0;
  if (v.IsScalar()) {
    const std::string& text = v.Scalar();
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (!text.empty() && ec == std::errc() && ptr == text.data() + text.size() && n >= 1 &&
        n <= kMaxWorkers) {
      out = static_cast<uint32_t>(n);
      return;
    }
  }
  diag.error(field.mark, field.path,
             "must be auto or an integer between 1 and 256, got " + describeNode(v));
}

void parseListenField(Diagnostics& diag, const Field& field, Address& out) {
  std::string text, error;
  if (!readString(diag, field, text)) return;
  if (!parseListenAddress(text, out, error)) diag.error(field.mark, field.path, error);
  out.where = diag.position(field.mark, field.path);
}

void parseAdmin(Diagnostics& diag, const Field& field, AdminConfig& out) {
  MapReader m(diag, field, {"listen"});
  out.enabled = true;  // the block turns it on; omitting the block disables it
  std::string error;
  parseListenAddress(kDefaultAdminListen, out.listen, error);
  if (auto f = m.get("listen")) parseListenField(diag, *f, out.listen);
}

void parseShutdown(Diagnostics& diag, const Field& field, ShutdownConfig& out) {
  MapReader m(diag, field, {"drain_timeout"});
  // 0s is allowed: stop without waiting for tunnels.
  if (auto f = m.get("drain_timeout")) readDuration(diag, *f, true, out.drain_timeout);
}

void parseLog(Diagnostics& diag, const Field& field, LogConfig& out) {
  MapReader m(diag, field, {"level", "access_log", "format"});
  size_t index = 0;
  if (auto f = m.get("level")) {
    static const std::vector<std::string_view> kLevels{"error", "warn", "info", "debug"};
    static const LogLevel kValues[] = {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo,
                                       LogLevel::kDebug};
    if (readChoice(diag, *f, kLevels, index)) out.level = kValues[index];
  }
  if (auto f = m.get("access_log")) {
    if (f->value.IsNull()) {
      diag.error(f->mark, f->path, "expected off, stdout, stderr or a file path, got nothing");
    } else {
      readString(diag, *f, out.access_log);
    }
  }
  if (auto f = m.get("format")) {
    if (readChoice(diag, *f, {"json", "text"}, index)) {
      out.format = index == 0 ? LogFormat::kJson : LogFormat::kText;
    }
  }
}

void parseRoot(Diagnostics& diag, const YAML::Node& root, Config& config) {
  YAML::Mark start = root.Mark();
  if (start.is_null()) start = YAML::Mark();  // an empty document: point at its first line
  diag.remember("", start);
  Field field{"", root, start};
  if (!root.IsMap()) {
    // Also for an empty file: every required key is then reported.
    if (!root.IsNull()) {
      diag.error(start, "", "expected a map of settings, got " + describeNode(root));
      return;
    }
  }
  MapReader m(diag, field, {"workers", "admin", "shutdown", "log", "listeners", "pools"});
  config.workers = cpuCount();
  if (auto f = m.get("workers")) parseWorkers(diag, *f, config.workers);
  if (auto f = m.get("admin")) parseAdmin(diag, *f, config.admin);
  if (auto f = m.get("shutdown")) parseShutdown(diag, *f, config.shutdown);
  if (auto f = m.get("log")) parseLog(diag, *f, config.log);
  if (auto f = m.require("listeners", "(at least one listener)")) {
    parseListeners(diag, *f, config.listeners);
  }
  if (auto f = m.require("pools", "(at least one pool)")) parsePools(diag, *f, config.pools);
}

LoadResult finish(Diagnostics& diag, std::shared_ptr<Config> config) {
  LoadResult result;
  if (config != nullptr && !diag.hasErrors()) {
    for (auto& w : collectNotYetImplementedWarnings(*config)) diag.addWarning(std::move(w));
    result.config = std::move(config);
  }
  result.errors = diag.takeErrors();
  result.warnings = diag.takeWarnings();
  return result;
}

}  // namespace

LoadResult loadConfigString(const std::string& yaml, const std::string& name, bool check_files) {
  Diagnostics diag(name);
  YAML::Node root;
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(yaml);
    if (!documents.empty()) root = documents.front();
    // A second document (after a stray `---`) would otherwise be dropped without a word.
    for (size_t i = 1; i < documents.size(); ++i) {
      if (documents[i].IsNull()) continue;  // `---` with nothing after it
      diag.error(documents[i].Mark(), "",
                 "a second YAML document: the config is one document (remove the `---` "
                 "before this line, or the lines after it)");
    }
    if (diag.hasErrors()) return finish(diag, nullptr);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this one is a misleading "bad file".
    diag.error(e.mark, "", "invalid YAML: nested too deeply");
    return finish(diag, nullptr);
  } catch (const YAML::Exception& e) {
    diag.error(e.mark, "", "invalid YAML: " + e.msg);
    return finish(diag, nullptr);
  }
  auto config = std::make_shared<Config>();
  config->source_path = name;
  try {
    parseRoot(diag, root, *config);
    validateConfig(diag, *config);
    if (check_files) {
      checkTlsFiles(diag, *config);
      checkAccessLogFile(diag, *config);
    }
  } catch (const std::exception& e) {
    // The readers check types before converting, so this is a bug; still never let it out.
    diag.error(YAML::Mark::null_mark(), "",
               std::string("internal error while loading: ") + e.what());
  }
  return finish(diag, std::move(config));
}

LoadResult loadConfigFile(const std::string& path, bool check_files) {
  std::string text;
  int error = 0;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = errno;
  } else {
    errno = 0;
    char buffer[16384];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
    if (std::ferror(file)) error = errno != 0 ? errno : EIO;  // EISDIR for a directory
    std::fclose(file);
  }
  if (error != 0) {
    Diagnostics diag(path);
    diag.error(YAML::Mark::null_mark(), "", std::string("cannot read: ") + std::strerror(error));
    return finish(diag, nullptr);
  }
  return loadConfigString(text, path, check_files);
}

}  // namespace fulcrum::config
