#include "fulcrum/balancer/sticky_picker.h"

#include <optional>

#include "fulcrum/sticky/source_ip_table.h"

namespace fulcrum::balancer {

StickyPicker::StickyPicker(const PoolBalancer& balancer, PickerPtr inner)
    : balancer_(balancer), inner_(std::move(inner)), mode_(balancer.pool->config->sticky.mode) {}

bool StickyPicker::usable(const upstream::PoolMember& m, const Eligibility& eligible) const {
  if (!eligible.bound(m)) return false;  // drained (weight 0) keeps the clients it has
  return !m.backup || !anyPrimaryEligible(*balancer_.pool, eligible);
}

const upstream::PoolMember* StickyPicker::pickCookie(const PickContext& ctx) {
  if (!ctx.affinity_token.empty()) {
    const upstream::PoolMember* m = balancer_.findByCookie(ctx.affinity_token);
    if (m != nullptr && usable(*m, Eligibility(ctx))) return m;
  }
  return inner_->pick(ctx);
}

const upstream::PoolMember* StickyPicker::pickSourceIp(const PickContext& ctx) {
  sticky::IpKey key;
  sticky::SourceIpTable* table = balancer_.source_ip_table.get();
  if (table == nullptr || !sticky::IpKey::fromSockaddr(ctx.client_addr, key)) {
    return inner_->pick(ctx);
  }
  const int64_t now_ms = steadyMs(ctx.now);
  const std::optional<uint64_t> seen = table->lookup(key, now_ms);
  if (seen) {
    const upstream::PoolMember* m = balancer_.findByAddressHash(*seen);
    if (m != nullptr && usable(*m, Eligibility(ctx))) return m;
  }
  const upstream::PoolMember* m = inner_->pick(ctx);
  if (m == nullptr) return m;
  // Another worker may have placed this client since the lookup: its choice wins when usable.
  const uint64_t mine = balancer_.address_hashes[m->index];
  const uint64_t stored = table->claim(key, mine, seen, now_ms);
  if (stored != mine) {
    const upstream::PoolMember* w = balancer_.findByAddressHash(stored);
    if (w != nullptr && usable(*w, Eligibility(ctx))) return w;
    table->remember(key, mine, now_ms);
  }
  return m;
}

const upstream::PoolMember* StickyPicker::pick(const PickContext& ctx) {
  switch (mode_) {
    case config::StickyMode::kCookie:
      return pickCookie(ctx);
    case config::StickyMode::kSourceIp:
      return pickSourceIp(ctx);
    case config::StickyMode::kNone:
      break;
  }
  return inner_->pick(ctx);
}

}  // namespace fulcrum::balancer
