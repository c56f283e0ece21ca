#include "fulcrum/balancer/sticky_picker.h"

#include "fulcrum/sticky/source_ip_table.h"

namespace fulcrum::balancer {

StickyPicker::StickyPicker(const PoolBalancer& balancer, PickerPtr inner)
    : balancer_(balancer), inner_(std::move(inner)), mode_(balancer.pool->config->sticky.mode) {}

bool StickyPicker::usable(const upstream::PoolMember& m, const Eligibility& eligible) const {
  if (!eligible(m)) return false;
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
  if (const auto backend = table->lookup(key, now_ms)) {
    const upstream::PoolMember* m = balancer_.findByAddressHash(*backend);
    if (m != nullptr && usable(*m, Eligibility(ctx))) return m;
  }
  const upstream::PoolMember* m = inner_->pick(ctx);
  if (m != nullptr) table->remember(key, balancer_.address_hashes[m->index], now_ms);
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
