#include "fulcrum/http/request_keys.h"

#include "fulcrum/balancer/pool_balancer.h"
#include "fulcrum/http/router.h"

namespace fulcrum::http {

std::optional<std::string_view> findQueryParam(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string_view> hashKeyValue(const config::HashKey& key, const RequestHead& head) {
  switch (key.kind) {
    // An empty header or cookie counts as none (as HAProxy's `balance hdr` has it): hashed, every
    // client that sends it empty would land on one backend.
    case config::HashKeyKind::kHeader:
      if (const Header* h = head.find(key.name); h != nullptr && !h->value.empty()) return h->value;
      return std::nullopt;
    case config::HashKeyKind::kCookie:
      if (auto v = findCookie(head, key.name); v && !v->empty()) return v;
      return std::nullopt;
    case config::HashKeyKind::kPath:
      return targetPath(head.target);
    case config::HashKeyKind::kQuery:
      return findQueryParam(head.target, key.name);
    case config::HashKeyKind::kNone:
    case config::HashKeyKind::kSourceIp:
      break;
  }
  return std::nullopt;
}

std::optional<uint64_t> requestHash(const config::HashKey& key, const RequestHead& head,
                                    const sockaddr* client) {
  if (key.kind == config::HashKeyKind::kNone) return std::nullopt;
  if (key.kind == config::HashKeyKind::kSourceIp) {
    if (client == nullptr) return std::nullopt;
    return balancer::hashAddress(client);
  }
  std::optional<std::string_view> value = hashKeyValue(key, head);
  if (!value) return std::nullopt;
  return balancer::hashKey(*value);
}

}  // namespace fulcrum::http
