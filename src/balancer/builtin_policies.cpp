// The one list of policies (no static self-registration: a static library's unreferenced
// registrars are silently dropped by the linker). Adding a policy is one line here.
#include "fulcrum/balancer/consistent_hash.h"
#include "fulcrum/balancer/least_connections.h"
#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/power_of_two.h"
#include "fulcrum/balancer/random_policy.h"
#include "fulcrum/balancer/round_robin.h"
#include "fulcrum/balancer/weighted_response_time.h"

namespace fulcrum::balancer {
namespace {

const RoundRobinFactory kRoundRobin;
const LeastConnectionsFactory kLeastConnections;
const WeightedResponseTimeFactory kWeightedResponseTime;
const ConsistentHashFactory kConsistentHash;
const RandomFactory kRandom;
const PowerOfTwoFactory kPowerOfTwo;

constexpr const PolicyFactory* kPolicies[] = {
    &kRoundRobin,     &kLeastConnections, &kWeightedResponseTime,
    &kConsistentHash, &kRandom,           &kPowerOfTwo,
};

}  // namespace

const PolicyFactory* findPolicy(std::string_view name) {
  for (const PolicyFactory* policy : kPolicies) {
    if (policy->name() == name) return policy;
  }
  return nullptr;
}

std::vector<std::string_view> policyNames() {
  std::vector<std::string_view> names;
  for (const PolicyFactory* policy : kPolicies) names.push_back(policy->name());
  return names;
}

}  // namespace fulcrum::balancer
