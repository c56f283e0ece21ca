#include "fulcrum/balancer/hash.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "fulcrum/balancer/pool_balancer.h"

namespace fulcrum::balancer {
namespace {

TEST(BalancerHash, Xxh64KnownValues) {
  // Reference values from libxxhash 0.8.1.
  EXPECT_EQ(xxh64("", 0), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(xxh64("abc", 0), 0x44BC2CF5AD770999ULL);
  EXPECT_EQ(xxh64("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", 0), 0xB35E125DD4555E6DULL);
  EXPECT_EQ(xxh64("127.0.0.1:9001", 7), 0x7EEAE9DEEA2987B8ULL);
  EXPECT_EQ(hashKey("abc"), 0x44BC2CF5AD770999ULL);
}

TEST(BalancerHash, AddressHashIgnoresPortAndMapping) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(1234);
  inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr);
  sockaddr_in v4_other_port = v4;
  v4_other_port.sin_port = htons(999);
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:192.0.2.7", &mapped.sin6_addr);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::7", &v6.sin6_addr);

  const auto* a = reinterpret_cast<const sockaddr*>(&v4);
  EXPECT_EQ(hashAddress(a), hashAddress(reinterpret_cast<const sockaddr*>(&v4_other_port)));
  EXPECT_EQ(hashAddress(a), hashAddress(reinterpret_cast<const sockaddr*>(&mapped)));
  EXPECT_NE(hashAddress(a), hashAddress(reinterpret_cast<const sockaddr*>(&v6)));
  EXPECT_EQ(hashAddress(nullptr), 0u);
}

}  // namespace
}  // namespace fulcrum::balancer
