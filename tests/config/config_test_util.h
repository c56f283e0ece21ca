#pragma once
// Helpers for the config tests: a small valid file to vary, and errors as text.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fulcrum/config/config_loader.h"

namespace fulcrum::config::testing {

// Loads without touching certificate files, as "t.yaml".
inline LoadResult load(const std::string& yaml) { return loadConfigString(yaml, "t.yaml", false); }

// One http listener "web" and one pool "web": the smallest valid file.
inline const char* kMinimal = R"(listeners:
  - name: web
    listen: 127.0.0.1:8080
    pool: web
pools:
  - name: web
    backends:
      - address: 127.0.0.1:9001
)";

inline std::vector<std::string> errorsOf(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.toString());
  return out;
}

inline std::vector<std::string> errorsOf(const std::string& yaml) { return errorsOf(load(yaml)); }

// A valid file: one http listener "web" and one pool "web". `listener` and `pool` are extra
// lines for the listener and the pool entries (indented by 4 spaces); `top` goes first.
inline std::string withExtra(const std::string& listener, const std::string& pool,
                             const std::string& top = "") {
  return top +
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:8080\n"
         "    pool: web\n" +
         listener +
         "pools:\n"
         "  - name: web\n"
         "    backends:\n"
         "      - address: 127.0.0.1:9001\n" +
         pool;
}
inline std::string listenerWith(const std::string& extra) { return withExtra(extra, ""); }
inline std::string poolWith(const std::string& extra) { return withExtra("", extra); }

// The only error of `yaml` without its "file:line:col: " prefix ("" and a failure when there
// is not exactly one).
inline std::string onlyError(const std::string& yaml) {
  LoadResult r = load(yaml);
  if (r.errors.size() != 1) {
    ADD_FAILURE() << "expected exactly one error, got " << r.errors.size() << ":\n"
                  << [&] {
                       std::string all;
                       for (const auto& e : r.errors) all += "  " + e.toString() + "\n";
                       return all;
                     }();
    return "";
  }
  EXPECT_EQ(r.config, nullptr);
  const ConfigError& e = r.errors[0];
  return e.path.empty() ? e.message : e.path + ": " + e.message;
}

}  // namespace fulcrum::config::testing
