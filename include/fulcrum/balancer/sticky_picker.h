#pragma once
// Stickiness as a decorator around any policy's picker (nginx sticky module, HAProxy
// stick rules): look the request's affinity up, return that backend while it is eligible,
// else delegate to the policy, then remember the choice.
//   cookie:    ctx.affinity_token names a member by its cookie id; nothing to remember here
//              (the HTTP layer sets the cookie when cookieFor(chosen) differs from the token).
//   source_ip: the pool's shared SourceIpTable maps ctx.client_addr to a backend address hash.

#include "fulcrum/balancer/eligibility.h"
#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/pool_balancer.h"

namespace fulcrum::balancer {

// Worker-local (the table it uses is shared and internally locked).
class StickyPicker : public Picker {
 public:
  StickyPicker(const PoolBalancer& balancer, PickerPtr inner);
  const upstream::PoolMember* pick(const PickContext& ctx) override;
  // The wrapped policy picker: a reload hands it to the next one so a cursor survives.
  const Picker* inner() const { return inner_.get(); }

 private:
  // `m` is eligible and in the tier in use (a backup only while no primary is eligible).
  bool usable(const upstream::PoolMember& m, const Eligibility& eligible) const;
  const upstream::PoolMember* pickCookie(const PickContext& ctx);
  const upstream::PoolMember* pickSourceIp(const PickContext& ctx);

  const PoolBalancer& balancer_;
  PickerPtr inner_;
  config::StickyMode mode_;
};

}  // namespace fulcrum::balancer
