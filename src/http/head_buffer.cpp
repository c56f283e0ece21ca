#include "fulcrum/http/head_buffer.h"

namespace fulcrum::http {

namespace {
// One allocation covers the headers of a typical head.
constexpr size_t kInitialSpans = 16;
// And one the bytes of a typical head.
constexpr size_t kInitialBytes = 512;
}  // namespace

void HeadBuffer::reset() {
  SpareStorage<std::string>::take(buf_);
  SpareStorage<std::vector<HeaderSpan>>::take(spans_);
  if (buf_.capacity() < kInitialBytes) buf_.reserve(kInitialBytes);
  buf_.clear();
  first_ = Span{};
  spans_.clear();
  value_open_ = false;
}

void HeadBuffer::append(Span& span, const char* at, size_t length) {
  if (span.length == 0) span.offset = static_cast<uint32_t>(buf_.size());
  buf_.append(at, length);
  span.length += static_cast<uint32_t>(length);
}

void HeadBuffer::appendField(const char* at, size_t length) {
  if (spans_.empty() || value_open_) {
    if (spans_.capacity() == 0) spans_.reserve(kInitialSpans);
    spans_.emplace_back();
    value_open_ = false;
  }
  append(spans_.back().name, at, length);
}

void HeadBuffer::appendValue(const char* at, size_t length) {
  if (spans_.empty()) {
    spans_.reserve(kInitialSpans);
    spans_.emplace_back();
  }
  value_open_ = true;
  append(spans_.back().value, at, length);
}

HeadBuffer::Span HeadBuffer::appendExtra(std::string_view bytes) {
  Span span;
  append(span, bytes.data(), bytes.size());
  return span;
}

void HeadBuffer::build(std::vector<Header>& out) const {
  SpareStorage<std::vector<Header>>::take(out);
  out.clear();
  out.reserve(spans_.size());
  for (const HeaderSpan& s : spans_) out.push_back({view(s.name), trimOws(view(s.value))});
}

void HeadBuffer::shrink() {
  if (buf_.capacity() > 4096) std::string().swap(buf_);
  if (spans_.capacity() > 64) std::vector<HeaderSpan>().swap(spans_);
}

void HeadBuffer::release() {
  SpareStorage<std::string>::give(buf_);
  SpareStorage<std::vector<HeaderSpan>>::give(spans_);
  first_ = Span{};
  value_open_ = false;
}

}  // namespace fulcrum::http
