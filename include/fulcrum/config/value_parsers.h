#pragma once
// Value formats of CONFIG.md beyond the loader API (parseDuration/parseSize/parseAddress live
// in config_loader.h). Pure functions.

#include <string>
#include <string_view>

#include "fulcrum/config/config.h"

namespace fulcrum::config {

// "250ms", "2s", "1m", "1h": the largest unit that is exact.
std::string formatDuration(Duration d);

// A listener address: the host must be an IP literal (0.0.0.0, ::, 127.0.0.1, [::1]) or
// `localhost` (127.0.0.1): a listener binds, it never resolves names.
bool parseListenAddress(const std::string& text, Address& out, std::string& error);

// A DNS host name: dot-separated labels of letters, digits, '-' and '_' (1..63 each, 253 in
// all), not all digits.
bool isValidHostName(std::string_view name);

// Two listening addresses that cannot both be bound: same port and same IP, or one of them is
// a wildcard that covers the other (0.0.0.0 covers IPv4; :: covers both, Linux being
// dual-stack by default). Unresolved addresses (length 0) never overlap.
bool addressesOverlap(const Address& a, const Address& b);

// The same endpoint (family, IP and port).
bool sameEndpoint(const Address& a, const Address& b);

// RFC 6265 cookie name (an RFC 7230 token). Also used for header names.
bool isToken(std::string_view text);

std::string toLower(std::string_view text);

}  // namespace fulcrum::config
