#pragma once
// A cross-check for builds with FULCRUM_CHECK_HEADER_SPANS (Debug, sanitizer and fuzz builds):
// the header names and values llhttp reports, collected as it reports them, must be exactly
// what the HeadScanner recorded for the same head. Release builds take the scanner's spans
// alone and give llhttp no header callbacks during a head. A mismatch aborts: under the
// fuzzer it is a finding, in the tests a failure.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "fulcrum/http/message.h"

namespace fulcrum::http {

class HeaderSpanCheck {
 public:
  void reset() {
    headers_.clear();
    value_open_ = false;
  }
  void field(const char* at, size_t length) {
    if (headers_.empty() || value_open_) {
      headers_.emplace_back();
      value_open_ = false;
    }
    headers_.back().first.append(at, length);
  }
  void value(const char* at, size_t length) {
    if (headers_.empty()) headers_.emplace_back();
    value_open_ = true;
    headers_.back().second.append(at, length);
  }
  void valueComplete() { value_open_ = true; }

  void verify(const std::vector<Header>& scanned) const {
    bool same = scanned.size() == headers_.size();
    for (size_t i = 0; same && i < scanned.size(); ++i) {
      same =
          scanned[i].name == headers_[i].first && scanned[i].value == trimOws(headers_[i].second);
    }
    if (same) return;
    std::fprintf(stderr, "header spans: the scanner recorded %zu headers, llhttp reported %zu\n",
                 scanned.size(), headers_.size());
    for (const Header& h : scanned)
      std::fprintf(stderr, "  scanner: [%.*s] [%.*s]\n", static_cast<int>(h.name.size()),
                   h.name.data(), static_cast<int>(h.value.size()), h.value.data());
    for (const auto& [name, value] : headers_)
      std::fprintf(stderr, "  llhttp:  [%s] [%s]\n", name.c_str(), value.c_str());
    std::abort();
  }

 private:
  std::vector<std::pair<std::string, std::string>> headers_;
  bool value_open_ = false;
};

}  // namespace fulcrum::http
