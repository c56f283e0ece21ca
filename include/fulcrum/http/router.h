#pragma once
// Picks the route of a request: the first route of the listener whose `host` (exact,
// case-insensitive, port and a trailing dot ignored) and `path_prefix` both match; the listener's
// own pool when none does. Pure; reads the immutable snapshot.

#include <string_view>

#include "fulcrum/core/snapshot.h"

namespace fulcrum::http {

// "Example.com:8080" -> "Example.com", "[::1]:80" -> "[::1]".
std::string_view hostWithoutPort(std::string_view host);
// The name a route's `host` is compared with: no port, no trailing dot ("Example.com.:80" ->
// "Example.com").
std::string_view routeHost(std::string_view host);
// The path part of a request target (before '?').
std::string_view targetPath(std::string_view target);

bool routeMatches(const config::RouteMatch& match, std::string_view host, std::string_view path);
const core::RouteRuntime& selectRoute(const core::ListenerRuntime& listener, std::string_view host,
                                      std::string_view target);

}  // namespace fulcrum::http
