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

// The value of cookie `name` in the request's Cookie headers, if present.
std::optional<std::string_view> findCookie(const RequestHead& head, std::string_view name);
// The value of query parameter `name` (raw, not percent-decoded), if present.
std::optional<std::string_view> findQueryParam(std::string_view target, std::string_view name);
// The bytes `key` selects from the request; nullopt when the request does not have them
// (source_ip is not a request byte: the caller hashes the address).
std::optional<std::string_view> hashKeyValue(const config::HashKey& key, const RequestHead& head);
// The hash for PickContext::hash: nullopt for no hash_key or a request without the key.
std::optional<uint64_t> requestHash(const config::HashKey& key, const RequestHead& head,
                                    const sockaddr* client);

}  // namespace fulcrum::http
