#include "fulcrum/http/head_buffer.h"

#include <cstdint>

namespace fulcrum::http {

namespace {
// One allocation covers the bytes of a typical head.
constexpr size_t kInitialBytes = 512;
}  // namespace

void HeadBuffer::reset() {
  SpareStorage<std::string>::take(buf_);
  SpareStorage<std::vector<HeaderSpan>>::take(spans_);
  if (buf_.capacity() < kInitialBytes) buf_.reserve(kInitialBytes);
  buf_.clear();
  raw_data_ = nullptr;
  raw_length_ = 0;
  first_ = Span{};
  spans_.clear();
  classified_ = 0;
}

void HeadBuffer::addRaw(const char* data, size_t length) {
  raw_offset_ = buf_.size();
  buf_.append(data, length);
  raw_data_ = data;
  raw_length_ = length;
}

void HeadBuffer::append(Span& span, const char* at, size_t length) {
  // Integers, not pointer comparisons: `at` need not point into either region.
  auto at_addr = reinterpret_cast<uintptr_t>(at);
  auto within = [&](const char* base, size_t size) {
    auto base_addr = reinterpret_cast<uintptr_t>(base);
    return base != nullptr && at_addr >= base_addr && at_addr - base_addr <= size &&
           length <= size - (at_addr - base_addr);
  };
  uint32_t offset = 0;
  if (within(raw_data_, raw_length_)) {
    offset =
        static_cast<uint32_t>(raw_offset_ + (at_addr - reinterpret_cast<uintptr_t>(raw_data_)));
  } else if (within(buf_.data(), buf_.size())) {
    // From the copy itself: a request line given to llhttp again (RequestParser::feedFirstLine).
    offset = static_cast<uint32_t>(at_addr - reinterpret_cast<uintptr_t>(buf_.data()));
  } else {
    appendCopy(span, at, length);  // not from addRaw's input
    return;
  }
  if (span.length == 0) {
    span.offset = offset;
  } else if (span.offset + span.length != offset) {
    // A continuation that does not follow on in the copy (llhttp reports the pieces of one
    // span back to back, so this is not expected): the span moves to the end of the buffer.
    appendCopy(span, at, length);
    return;
  }
  span.length += static_cast<uint32_t>(length);
}

void HeadBuffer::appendCopy(Span& span, const char* at, size_t length) {
  auto end = static_cast<uint32_t>(buf_.size());
  if (span.length != 0 && span.offset + span.length != end) {
    buf_.append(buf_, span.offset, span.length);  // self-append is well defined
    span.offset = end;
  } else if (span.length == 0) {
    span.offset = end;
  }
  buf_.append(at, length);
  span.length += static_cast<uint32_t>(length);
}

HeadBuffer::Span HeadBuffer::appendExtra(std::string_view bytes) {
  Span span;
  appendCopy(span, bytes.data(), bytes.size());
  return span;
}

void HeadBuffer::classify() {
  for (; classified_ < spans_.size(); ++classified_) {
    HeaderSpan& s = spans_[classified_];
    s.id = classifyHeader(view(s.name));
  }
}

void HeadBuffer::build(std::vector<Header>& out) {
  classify();
  SpareStorage<std::vector<Header>>::take(out);
  out.clear();
  out.reserve(spans_.size());
  for (const HeaderSpan& s : spans_) out.emplace_back(view(s.name), trimOws(view(s.value)), s.id);
}

void HeadBuffer::shrink() {
  if (buf_.capacity() > 4096) std::string().swap(buf_);
  if (spans_.capacity() > 64) std::vector<HeaderSpan>().swap(spans_);
}

void HeadBuffer::release() {
  raw_data_ = nullptr;
  raw_length_ = 0;
  SpareStorage<std::string>::give(buf_);
  SpareStorage<std::vector<HeaderSpan>>::give(spans_);
  classified_ = 0;
  first_ = Span{};
}

}  // namespace fulcrum::http
