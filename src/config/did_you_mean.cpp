#include "fulcrum/config/did_you_mean.h"

#include <algorithm>
#include <cctype>

namespace fulcrum::config {

size_t editDistance(std::string_view a, std::string_view b) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  const size_t n = a.size(), m = b.size();
  // Three rows are enough for optimal string alignment (the transposition looks two back).
  std::vector<size_t> two_back(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        cur[j] = std::min(cur[j], two_back[j - 2] + 1);
      }
    }
    two_back.swap(prev);
    prev.swap(cur);
  }
  return prev[m];
}

std::string closestMatch(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = 3;  // more than two edits is a different word, not a typo
  for (auto candidate : candidates) {
    size_t d = editDistance(word, candidate);
    // Short words are close to everything: a hint must keep most of the word intact.
    if (d < best_distance && d * 2 < std::max(word.size(), candidate.size())) {
      best = candidate;
      best_distance = d;
    }
  }
  return std::string(best);
}

std::string didYouMean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string match = closestMatch(word, candidates);
  if (match.empty()) return "";
  return " (did you mean \"" + match + "\"?)";
}

}  // namespace fulcrum::config
