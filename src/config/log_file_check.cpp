// Checks that the access log file can be written, without creating it, so that `--check` and a
// reload report an unwritable path with its position like any other config error. The control
// thread still opens the file before the config takes effect (a race with the file system
// fails the start or the reload there).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "fulcrum/config/section_parsers.h"

namespace fulcrum::config {

namespace {

std::string parentDirectory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void checkAccessLogFile(Diagnostics& diag, const Config& config) {
  const std::string& target = config.log.access_log;
  if (target.empty() || target == "off" || target == "stdout" || target == "stderr") return;
  const std::string where = "log.access_log";
  struct stat st {};
  if (stat(target.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      diag.error(where, "cannot write the access log \"" + target + "\": it is a directory");
    } else if (access(target.c_str(), W_OK) != 0) {
      diag.error(where, "cannot write the access log \"" + target + "\": " + std::strerror(errno));
    }
    return;
  }
  if (errno != ENOENT) {
    diag.error(where, "cannot write the access log \"" + target + "\": " + std::strerror(errno));
    return;
  }
  // Not there yet: its directory must exist and let us create it.
  const std::string dir = parentDirectory(target);
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    diag.error(where,
               "cannot create the access log \"" + target + "\": no directory \"" + dir + "\"");
  } else if (access(dir.c_str(), W_OK | X_OK) != 0) {
    diag.error(where, "cannot create the access log \"" + target + "\" in \"" + dir +
                          "\": " + std::strerror(errno));
  }
}

}  // namespace fulcrum::config
