#include "fulcrum/sticky/cookie_id.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace fulcrum::sticky {

std::string cookieId(std::string_view secret, std::string_view pool, std::string_view address) {
  std::string message;
  message.reserve(pool.size() + 1 + address.size());
  message.append(pool);
  message.push_back('\0');  // "ab"+"c" and "a"+"bc" must differ
  message.append(address);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  static const unsigned char kEmptyKey = 0;  // HMAC() wants a non-null key even when empty
  const void* key = secret.empty() ? static_cast<const void*>(&kEmptyKey) : secret.data();
  if (HMAC(EVP_sha256(), key, static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr ||
      length < kCookieIdLength / 2) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(kCookieIdLength, '0');
  for (size_t i = 0; i < kCookieIdLength / 2; ++i) {
    id[2 * i] = kHex[digest[i] >> 4];
    id[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return id;
}

}  // namespace fulcrum::sticky
