// fulcrum: parse the command line, load the config, run the control thread.
// Exit codes (CONFIG.md): 0 clean shutdown, 1 invalid config or startup failure, 2 bad usage.

#include <cstdio>
#include <cstring>
#include <string>

#include "fulcrum/config/config_loader.h"
#include "fulcrum/control/control.h"
#include "fulcrum/control/fd_limit.h"
#include "fulcrum/core/log.h"

namespace {

constexpr const char* kUsage =
    "usage: fulcrum -c FILE [--check]\n"
    "       fulcrum --version | --help\n"
    "\n"
    "  -c, --config FILE  run with the YAML config FILE (logs go to stderr)\n"
    "      --check        validate FILE (and the certificates it names), print\n"
    "                     'FILE: ok' or every error, and exit; opens no socket\n"
    "  -v, --version      print the version\n"
    "  -h, --help         print this help\n"
    "\n"
    "signals: SIGHUP reload, SIGTERM/SIGINT/SIGQUIT graceful shutdown, SIGUSR1 reopen logs\n";

int usageError(const std::string& message) {
  std::fprintf(stderr, "fulcrum: %s\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

// Before any other static initialiser of the program (priority 101 is the first one not
// reserved): the control signals stay blocked until their handlers are in place
// (Control::run), through reading the config, whose DNS lookups can take seconds. What runs
// before this, exec and the dynamic loader (3-4 ms here), is the only window left in which a
// SIGHUP kills the process, as for nginx and HAProxy; a supervisor that reloads only after
// /readyz answers never hits it.
__attribute__((constructor(101))) static void blockSignalsFirst() {
  fulcrum::control::blockControlSignals();
}

int main(int argc, char** argv) {
  std::string config_path;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-c" || arg == "--config") {
      if (i + 1 >= argc) return usageError(arg + " needs a FILE");
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else if (arg == "--check") {
      check = true;
    } else if (arg == "-v" || arg == "--version") {
      std::printf("fulcrum %s\n", FULCRUM_VERSION);
      return 0;
    } else if (arg == "-h" || arg == "--help") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      return usageError("unknown argument '" + arg + "'");
    }
  }
  if (config_path.empty()) return usageError("no config file (-c FILE)");
  if (check) fulcrum::control::unblockControlSignals();  // nothing to shut down: Ctrl-C stops it

  fulcrum::config::LoadResult result = fulcrum::config::loadConfigFile(config_path);
  if (!result.ok()) {
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
    std::fprintf(stderr, "%s: %zu error(s)\n", config_path.c_str(), result.errors.size());
    return 1;
  }
  if (check) {
    for (const auto& w : result.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    std::printf("%s: ok\n", config_path.c_str());
    return 0;
  }
  fulcrum::log::setLevel(result.config->log.level);
  for (const auto& w : result.warnings) fulcrum::log::warn("{}", w);
  const fulcrum::control::FdLimit fds = fulcrum::control::raiseFdLimit();
  if (fds.now > fds.before) {
    fulcrum::log::info("open file limit raised from {} to {} (the hard limit)", fds.before,
                       fds.now);
  }
  fulcrum::control::Control control(config_path, result.config);
  return control.run();
}
