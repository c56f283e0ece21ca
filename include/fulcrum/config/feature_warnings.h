#pragma once
// Features that the config accepts but this build does not act on yet. Each one a config turns
// on gives a warning naming it; remove an entry from feature_warnings.cpp when it lands.

#include <string>
#include <vector>

#include "fulcrum/config/config.h"

namespace fulcrum::config {

std::vector<std::string> collectNotYetImplementedWarnings(const Config& config);

}  // namespace fulcrum::config
