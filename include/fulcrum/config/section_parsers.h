#pragma once
// The parsers of each part of the file, and the checks that run on the whole Config after
// them. Each writes what it could read into `out` and reports every problem to `diag`; the
// list parsers keep one entry per element (even a broken one) so that config.listeners[i]
// is always the listeners[i] of the file. Control thread only.

#include <vector>

#include "fulcrum/config/config.h"
#include "fulcrum/config/diagnostics.h"
#include "fulcrum/config/yaml_reader.h"

namespace fulcrum::config {

// listener_parser.cpp
void parseListeners(Diagnostics& diag, const Field& field, std::vector<ListenerConfig>& out);

// pool_parser.cpp (resolves backend DNS names: blocking)
void parsePools(Diagnostics& diag, const Field& field, std::vector<PoolConfig>& out);

// pool_checks_parser.cpp
void parseHealthCheck(Diagnostics& diag, const Field& field, HealthCheckConfig& out);
void parseOutlierDetection(Diagnostics& diag, const Field& field, OutlierDetectionConfig& out);
void parseRetries(Diagnostics& diag, const Field& field, RetryConfig& out);

// config_validator.cpp: unique names, overlapping addresses, pool references.
void validateConfig(Diagnostics& diag, const Config& config);

// tls_file_check.cpp: certificates and keys named by the config are readable PEM files and
// every key matches its certificate.
void checkTlsFiles(Diagnostics& diag, const Config& config);

// log_file_check.cpp: the access log file can be written (or created in its directory).
void checkAccessLogFile(Diagnostics& diag, const Config& config);

}  // namespace fulcrum::config
