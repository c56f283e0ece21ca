#include "fulcrum/http/router.h"

#include "fulcrum/http/message.h"

namespace fulcrum::http {

std::string_view hostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

std::string_view targetPath(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view routeHost(std::string_view host) {
  std::string_view name = hostWithoutPort(host);
  // "example.com." is the same fully qualified name as "example.com" (nginx and Envoy's
  // strip_trailing_host_dot treat it so too); without this a client could step around a route.
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  return name;
}

bool routeMatches(const config::RouteMatch& match, std::string_view host, std::string_view path) {
  if (!match.host.empty() && !equalsIgnoreCase(routeHost(host), match.host)) return false;
  if (!match.path_prefix.empty() && path.substr(0, match.path_prefix.size()) != match.path_prefix)
    return false;
  return true;
}

const core::RouteRuntime& selectRoute(const core::ListenerRuntime& listener, std::string_view host,
                                      std::string_view target) {
  std::string_view path = targetPath(target);
  for (const core::RouteRuntime& route : listener.routes) {
    if (route.route != nullptr && routeMatches(route.route->match, host, path)) return route;
  }
  return listener.default_route;
}

}  // namespace fulcrum::http
