#include "fulcrum/http/head_buffer.h"

namespace fulcrum::http {

void HeadBuffer::reset() {
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
    spans_.emplace_back();
    value_open_ = false;
  }
  append(spans_.back().name, at, length);
}

void HeadBuffer::appendValue(const char* at, size_t length) {
  if (spans_.empty()) spans_.emplace_back();
  value_open_ = true;
  append(spans_.back().value, at, length);
}

HeadBuffer::Span HeadBuffer::appendExtra(std::string_view bytes) {
  Span span;
  append(span, bytes.data(), bytes.size());
  return span;
}

void HeadBuffer::build(std::vector<Header>& out) const {
  out.clear();
  for (const HeaderSpan& s : spans_) out.push_back({view(s.name), trimOws(view(s.value))});
}

void HeadBuffer::shrink() {
  if (buf_.capacity() > 4096) std::string().swap(buf_);
  if (spans_.capacity() > 64) std::vector<HeaderSpan>().swap(spans_);
}

}  // namespace fulcrum::http
