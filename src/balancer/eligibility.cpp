#include "fulcrum/balancer/eligibility.h"

namespace fulcrum::balancer {

bool anyPrimaryEligible(const upstream::Pool& pool, const Eligibility& eligible) {
  for (uint32_t i : pool.primaries) {
    if (eligible(pool.members[i])) return true;
  }
  return false;
}

void collectEligible(const upstream::Pool& pool, const Eligibility& eligible,
                     std::vector<uint32_t>& out) {
  out.clear();
  for (uint32_t i : pool.primaries) {
    if (eligible(pool.members[i])) out.push_back(i);
  }
  if (!out.empty()) return;
  for (uint32_t i : pool.backups) {
    if (eligible(pool.members[i])) out.push_back(i);
  }
}

}  // namespace fulcrum::balancer
