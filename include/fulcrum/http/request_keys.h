#pragma once
// Values a request carries for balancing: the consistent-hash key (`hash_key`) and the
// sticky cookie. Pure functions over a parsed head.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "fulcrum/config/config.h"
#include "fulcrum/http/message.h"

namespace fulcrum::http {

// The value of cookie `name` in the request's Cookie headers, if present: the first one whose
// value `accept` takes (a value taking any), else the first of that name. A client can carry
// several of one name (RFC 6265 5.4: a cookie of a longer Path comes first, such as a stale
// one another deployment scoped to /app), and the sticky cookie must find its own among them.
template <class Accept>
std::optional<std::string_view> findCookie(const RequestHead& head, std::string_view name,
                                           Accept&& accept);
inline std::optional<std::string_view> findCookie(const RequestHead& head, std::string_view name) {
  return findCookie(head, name, [](std::string_view) { return true; });
}
// The value of query parameter `name` (raw, not percent-decoded), if present.
std::optional<std::string_view> findQueryParam(std::string_view target, std::string_view name);
// The bytes `key` selects from the request; nullopt when the request does not have them
// (source_ip is not a request byte: the caller hashes the address).
std::optional<std::string_view> hashKeyValue(const config::HashKey& key, const RequestHead& head);
// The hash for PickContext::hash: nullopt for no hash_key or a request without the key.
std::optional<uint64_t> requestHash(const config::HashKey& key, const RequestHead& head,
                                    const sockaddr* client);

template <class Accept>
std::optional<std::string_view> findCookie(const RequestHead& head, std::string_view name,
                                           Accept&& accept) {
  std::optional<std::string_view> first;
  for (const Header& h : head.headers) {
    if (h.id != HeaderId::kCookie) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = trimOws(rest.substr(0, semi));
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && trimOws(pair.substr(0, eq)) == name) {
        std::string_view value = trimOws(pair.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
          value = value.substr(1, value.size() - 2);
        if (accept(value)) return value;
        if (!first) first = value;
      }
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return first;
}

}  // namespace fulcrum::http
