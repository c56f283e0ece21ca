#include "fulcrum/balancer/sticky_picker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fulcrum/sticky/cookie_id.h"
#include "fulcrum/sticky/source_ip_table.h"
#include "test_pool.h"

namespace fulcrum::balancer {
namespace {

using testing::backend;
using testing::TestPool;

PickContext at(int64_t ms) {
  PickContext ctx;
  ctx.now = testing::testTime(ms);
  return ctx;
}

TestPool cookiePool(const std::string& secret = "s3cret") {
  TestPool tp({1, 1, 1, 1});
  tp.config().sticky.mode = config::StickyMode::kCookie;
  tp.config().sticky.secret = secret;
  tp.build();
  return tp;
}

TEST(StickyCookie, IdsAreOpaqueStableAndKeyed) {
  TestPool a = cookiePool();
  TestPool b = cookiePool();
  TestPool other = cookiePool("another");
  std::set<std::string> ids;
  for (size_t i = 0; i < 4; ++i) {
    const std::string id(a.balancer().cookieFor(a.pool().members[i]));
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(id.find(testing::addressOf(i)), std::string::npos);
    EXPECT_EQ(id.find("10.0.0"), std::string::npos);
    EXPECT_EQ(id, b.balancer().cookieFor(b.pool().members[i]));          // another instance agrees
    EXPECT_NE(id, other.balancer().cookieFor(other.pool().members[i]));  // other secret
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 4u);
  // Bound to the pool name too.
  EXPECT_NE(sticky::cookieId("s3cret", "pool", "10.0.0.1:80"),
            sticky::cookieId("s3cret", "pool2", "10.0.0.1:80"));
  // HMAC-SHA256 test vector (RFC 4231 style check of the keyed construction).
  EXPECT_EQ(sticky::cookieId("", "p", "a").size(), 32u);
}

TEST(StickyCookie, TokenRoutesToItsMember) {
  TestPool tp = cookiePool();
  auto picker = tp.picker(3);
  const std::string token(tp.balancer().cookieFor(tp.pool().members[2]));
  for (int i = 0; i < 100; ++i) {
    PickContext ctx = at(0);
    ctx.affinity_token = token;
    ASSERT_EQ(picker->pick(ctx)->index, 2u);
  }
  // Without a token the policy decides (round robin: all four).
  auto counts = TestPool::count(*picker, 400, at(0));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(counts[i], 100);
}

TEST(StickyCookie, IneligibleOrUnknownTokenDelegates) {
  TestPool tp = cookiePool();
  auto picker = tp.picker(3);
  std::string token(tp.balancer().cookieFor(tp.pool().members[2]));
  tp.state(2).health = upstream::Health::kDown;
  PickContext ctx = at(0);
  ctx.affinity_token = token;
  for (int i = 0; i < 50; ++i) {
    const auto* m = picker->pick(ctx);
    ASSERT_NE(m, nullptr);
    EXPECT_NE(m->index, 2u);
    EXPECT_NE(tp.balancer().cookieFor(*m), token);  // the HTTP layer replaces the cookie
  }
  tp.state(2).health = upstream::Health::kUp;
  TriedSet tried;
  tried.add(2);
  ctx.tried = &tried;  // a retry after it failed: elsewhere
  EXPECT_NE(picker->pick(ctx)->index, 2u);

  for (std::string bad :
       {std::string("zz"), token.substr(0, 31) + "g", std::string(32, 'a'),
        tp.balancer().cookieFor(tp.pool().members[1]).data() + std::string("0")}) {
    PickContext bad_ctx = at(0);
    bad_ctx.affinity_token = bad;
    EXPECT_NE(picker->pick(bad_ctx), nullptr) << bad;
  }
  // Forged: a valid-looking id of another secret routes nowhere in particular.
  EXPECT_EQ(tp.balancer().findByCookie(sticky::cookieId("guess", "pool", testing::addressOf(1))),
            nullptr);
}

// Draining a backend (weight 0, a reload) for maintenance: its sticky clients stay until they
// leave, as with HAProxy's weight 0 and nginx's `drain`; it takes no new ones.
TEST(StickyCookie, DrainedBackendKeepsItsClientsAndTakesNoNewOnes) {
  TestPool tp = cookiePool();
  const std::string token(tp.balancer().cookieFor(tp.pool().members[2]));
  tp.config().backends[2].weight = 0;  // the reload that drains it
  tp.build();
  auto picker = tp.picker(3);
  PickContext ctx = at(0);
  ctx.affinity_token = token;
  for (int i = 0; i < 50; ++i) ASSERT_EQ(picker->pick(ctx)->index, 2u);
  auto counts = TestPool::count(*picker, 300, at(0));  // clients without a cookie
  EXPECT_EQ(counts[2], 0);
  EXPECT_EQ(counts[0] + counts[1] + counts[3], 300);
  // Drained and down: its clients move.
  tp.state(2).health = upstream::Health::kDown;
  EXPECT_NE(picker->pick(ctx)->index, 2u);
}

TEST(StickyCookie, BackupCookieYieldsToRecoveredPrimary) {
  TestPool tp({backend("10.0.0.1:80"), backend("10.0.0.2:80", 1, true)});
  tp.config().sticky.mode = config::StickyMode::kCookie;
  tp.build();
  auto picker = tp.picker();
  PickContext ctx = at(0);
  const std::string token(tp.balancer().cookieFor(tp.pool().members[1]));
  ctx.affinity_token = token;
  EXPECT_EQ(picker->pick(ctx)->index, 0u);
  tp.state(0).health = upstream::Health::kDown;
  EXPECT_EQ(picker->pick(ctx)->index, 1u);
}

sockaddr_in client(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// A pick at `ms` for the client at `addr` (which must outlive the context).
PickContext from(sockaddr_in& addr, int64_t ms) {
  PickContext ctx = at(ms);
  ctx.client_addr = reinterpret_cast<sockaddr*>(&addr);
  return ctx;
}

TestPool sourceIpPool(const std::vector<config::BackendConfig>& backends) {
  TestPool tp(backends);
  tp.config().sticky.mode = config::StickyMode::kSourceIp;
  tp.config().sticky.ttl = config::Duration(60'000);
  tp.config().sticky.table_size = 1000;
  tp.build();
  return tp;
}

std::vector<config::BackendConfig> four() {
  return {backend("10.0.0.1:80"), backend("10.0.0.2:80"), backend("10.0.0.3:80"),
          backend("10.0.0.4:80")};
}

TEST(StickySourceIp, SameClientSameBackend) {
  TestPool tp = sourceIpPool(four());
  auto picker = tp.picker(1);
  std::set<uint32_t> used;
  for (int c = 0; c < 8; ++c) {
    const std::string ip = "192.0.2." + std::to_string(c + 1);
    sockaddr_in addr = client(ip.c_str(), 1000);
    PickContext ctx = from(addr, 0);
    const auto* first = picker->pick(ctx);
    used.insert(first->index);
    for (int i = 0; i < 100; ++i) {
      addr.sin_port = htons(static_cast<uint16_t>(2000 + i));  // new connection, same client
      ASSERT_EQ(picker->pick(ctx), first);
    }
  }
  EXPECT_EQ(used.size(), 4u);  // clients still spread over the pool
  EXPECT_EQ(tp.balancer().source_ip_table->size(), 8u);
}

// A new client's first connections, opened in parallel, land on several workers at once: each
// worker's picker misses in the shared table and picks on its own. They must all end on one
// backend (a browser opens ~6 connections for its first page). The table's claim() makes the
// second store see the first; with a plain replace, 4 workers split about 1 client in 25.
TEST(StickySourceIp, ParallelFirstConnectionsOnSeveralWorkersShareABackend) {
  TestPool tp = sourceIpPool(four());
  constexpr int kWorkers = 4, kClients = 900;  // the table holds 1000
  std::vector<PickerPtr> pickers;
  for (int w = 0; w < kWorkers; ++w) pickers.push_back(tp.picker(static_cast<uint64_t>(w + 1)));
  std::vector<std::vector<uint32_t>> got(kWorkers, std::vector<uint32_t>(kClients));
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      ready.fetch_add(1);
      while (ready.load() < kWorkers) {
      }
      for (int c = 0; c < kClients; ++c) {
        const std::string ip = "198.18." + std::to_string(c / 250) + "." + std::to_string(c % 250);
        sockaddr_in addr = client(ip.c_str(), static_cast<uint16_t>(1000 + w));
        PickContext ctx = from(addr, 0);
        got[w][c] = pickers[w]->pick(ctx)->index;
      }
    });
  }
  for (auto& t : threads) t.join();
  int split = 0;
  for (int c = 0; c < kClients; ++c) {
    for (int w = 1; w < kWorkers; ++w) {
      if (got[w][c] != got[0][c]) {
        ++split;
        break;
      }
    }
  }
  EXPECT_EQ(split, 0) << "clients whose parallel first connections went to different backends";
}

TEST(StickySourceIp, DeadBackendReroutesAndRemembersNewOne) {
  TestPool tp = sourceIpPool(four());
  auto picker = tp.picker(1);
  sockaddr_in addr = client("192.0.2.1", 1);
  PickContext ctx = from(addr, 0);
  const auto* first = picker->pick(ctx);
  tp.state(first->index).health = upstream::Health::kDown;
  const auto* second = picker->pick(ctx);
  ASSERT_NE(second, first);
  tp.state(first->index).health = upstream::Health::kUp;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(picker->pick(ctx), second);  // the new one sticks
}

TEST(StickySourceIp, DrainedBackendKeepsItsClientsAndTakesNoNewOnes) {
  TestPool tp = sourceIpPool(four());
  auto before = tp.picker(1);
  sockaddr_in addr = client("192.0.2.7", 1);
  PickContext ctx = from(addr, 0);
  const uint32_t bound = before->pick(ctx)->index;
  tp.config().backends[bound].weight = 0;  // the reload that drains it; the table is kept
  tp.build();
  auto after = tp.picker(2, before.get());
  for (int i = 0; i < 20; ++i) {
    addr.sin_port = htons(static_cast<uint16_t>(3000 + i));
    PickContext again = from(addr, 1000);
    ASSERT_EQ(after->pick(again)->index, bound);
  }
  for (int c = 0; c < 200; ++c) {  // new clients never go there
    sockaddr_in other = client(("203.0.113." + std::to_string(c)).c_str(), 1);
    PickContext fresh = from(other, 1000);
    ASSERT_NE(after->pick(fresh)->index, bound);
  }
}

TEST(StickySourceIp, EntryExpiresAfterTtl) {
  TestPool tp = sourceIpPool(four());
  auto picker = tp.picker(1);
  sockaddr_in addr = client("192.0.2.1", 1);
  PickContext ctx = from(addr, 0);
  picker->pick(ctx);
  EXPECT_EQ(tp.balancer().source_ip_table->size(), 1u);
  EXPECT_FALSE(tp.balancer().source_ip_table->lookup(
      sticky::IpKey{0, (0xffffULL << 32) | 0xC0000201}, 60'000 + 1'000'000'000));
}

TEST(StickySourceIp, AffinitySurvivesReloadThatReordersPool) {
  TestPool tp = sourceIpPool(four());
  auto old_balancer = tp.balancerPtr();
  auto before = tp.picker(1);
  std::vector<std::string> chosen;
  std::vector<sockaddr_in> clients;
  for (int c = 0; c < 16; ++c)
    clients.push_back(client(("198.51.100." + std::to_string(c + 1)).c_str(), 9));
  for (auto& addr : clients) {
    PickContext ctx = from(addr, 0);
    chosen.push_back(before->pick(ctx)->address());
  }
  // Reload: backends in another order, one more added. Same table, same backends.
  auto reordered = four();
  std::reverse(reordered.begin(), reordered.end());
  reordered.push_back(backend("10.0.0.5:80"));
  tp.config().backends = reordered;
  tp.build();
  EXPECT_EQ(tp.balancer().source_ip_table, old_balancer->source_ip_table);
  auto after = tp.picker(2, before.get());
  for (size_t c = 0; c < clients.size(); ++c) {
    PickContext ctx = from(clients[c], 1000);
    EXPECT_EQ(after->pick(ctx)->address(), chosen[c]);
  }
}

TEST(StickySourceIp, NoClientAddressDelegates) {
  TestPool tp = sourceIpPool(four());
  auto picker = tp.picker(1);
  auto counts = TestPool::count(*picker, 400, at(0));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(counts[i], 100);
  EXPECT_EQ(tp.balancer().source_ip_table->size(), 0u);
}

}  // namespace
}  // namespace fulcrum::balancer
