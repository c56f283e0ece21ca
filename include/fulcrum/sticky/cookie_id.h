#pragma once
// Cookie stickiness ids: HMAC-SHA256(secret, pool name NUL backend address), first 16 bytes
// in lowercase hex (32 characters). Opaque (does not reveal the address), unforgeable into
// another backend's id without the secret, and the same on every instance sharing the
// secret and across restarts, so affinity holds behind several Fulcrum instances.

#include <string>
#include <string_view>

namespace fulcrum::sticky {

inline constexpr size_t kCookieIdLength = 32;

std::string cookieId(std::string_view secret, std::string_view pool, std::string_view address);

}  // namespace fulcrum::sticky
