#pragma once
// "did you mean" hints for unknown keys, enum values and pool references.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fulcrum::config {

// Optimal string alignment distance (a swap of two neighbours counts as one edit), ignoring
// ASCII case.
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo (at most two
// edits, and fewer than half the letters), else "".
std::string closestMatch(std::string_view word, const std::vector<std::string_view>& candidates);

// " (did you mean \"timeouts\"?)" or "".
std::string didYouMean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace fulcrum::config
