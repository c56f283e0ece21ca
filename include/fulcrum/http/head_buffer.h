#pragma once
// The per-connection copy of one message head. The raw head bytes are copied here whole (one
// memcpy per read, addRaw) as the scanner passes them; the first line's variable part (URL or
// reason phrase, which llhttp reports as spans of that input, possibly split across reads)
// and the header names and values (which the HeadScanner records as offsets from the head's
// first byte) are kept as offsets into the copy, and turned into string_views once the head
// is complete (so growing the buffer never leaves a dangling view). Only head bytes are
// copied, so the size is bounded by the head limit. Worker-local.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fulcrum/http/message.h"

namespace fulcrum::http {

// Spare head storage of this worker thread. An idle or closed connection gives its head
// memory back, but into this list rather than to malloc, and the next head of any connection
// takes it again: a keep-alive request (or a new connection's) allocates nothing in steady
// state. Bounded in count and in the size of what it keeps.
template <class T>
class SpareStorage {
 public:
  static constexpr size_t kMaxSpares = 512;
  static constexpr size_t kMaxBytes = 4096;

  // Leaves `v` empty without capacity; its storage is kept for reuse when small enough.
  static void give(T& v) {
    if (v.capacity() > T().capacity() && v.capacity() * sizeof(v[0]) <= kMaxBytes && !gone_) {
      std::vector<T>& l = list_.spares;
      if (l.size() < kMaxSpares) {
        if (l.capacity() == 0) l.reserve(kMaxSpares);
        v.clear();
        l.push_back(std::move(v));
      }
    }
    T().swap(v);
  }
  // Gives `v` spare storage if it has none.
  static void take(T& v) {
    if (v.capacity() > T().capacity() || gone_) return;
    std::vector<T>& l = list_.spares;
    if (l.empty()) return;
    v.swap(l.back());
    l.pop_back();
  }

 private:
  struct List {
    std::vector<T> spares;
    // After this thread's list is destroyed (thread exit), storage is simply freed.
    ~List() { gone_ = true; }
  };
  static inline thread_local List list_;
  static inline thread_local bool gone_ = false;  // trivially destructible: readable to the end
};

class HeadBuffer {
 public:
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  // One header line: its name and untrimmed value. The line runs from the name's first byte to
  // the CRLF right after the value.
  struct HeaderSpan {
    Span name;
    Span value;
    HeaderId id = HeaderId::kOther;  // set by classify()
  };

  HeadBuffer() = default;       // no memory until a head arrives (idle connections are many)
  ~HeadBuffer() { release(); }  // the storage goes to the worker's spares
  HeadBuffer(const HeadBuffer&) = delete;
  HeadBuffer& operator=(const HeadBuffer&) = delete;
  // Before the first byte of a head.
  void reset();
  // Copies head bytes that are about to go through llhttp; the spans it reports from them
  // (appendFirst) are recorded without another copy.
  void addRaw(const char* data, size_t length);
  void appendFirst(const char* at, size_t length) { append(first_, at, length); }
  // One header line: its name and (untrimmed) value as offsets from the head's first byte,
  // which is the first byte given to addRaw after reset().
  void addHeader(Span name, Span value) {
    if (spans_.capacity() == 0) spans_.reserve(kInitialSpans);
    spans_.push_back({name, value});
  }
  // Appends bytes of the proxy's own (a rewritten target) and returns their span.
  Span appendExtra(std::string_view bytes);

  Span first() const { return first_; }
  // The request line is given to llhttp again from the copy (RequestParser::feedFirstLine):
  // the target it reports again starts a new span, and one byte of the copy may be rewritten.
  void restartFirst() { first_ = Span{}; }
  void rewriteByte(size_t offset, char c) { buf_[offset] = c; }
  // The header lines recorded so far, in order (their ids once classify() has run).
  const std::vector<HeaderSpan>& headerSpans() const { return spans_; }
  // Every byte held: the head from its first byte, then any appendExtra bytes.
  std::string_view bytes() const { return buf_; }
  std::string_view view(Span span) const { return {buf_.data() + span.offset, span.length}; }
  // Recognises the names of the header lines recorded so far (HeaderId), once: the head feed
  // needs them before build() does.
  void classify();
  // Fills `out` with views (values trimmed). Valid until the next append or reset().
  void build(std::vector<Header>& out);
  // Gives memory back after an unusually large head.
  void shrink();
  // Gives all memory back (an idle connection); the next head allocates again.
  void release();

 private:
  // One allocation covers the headers of a typical head.
  static constexpr size_t kInitialSpans = 16;
  void append(Span& span, const char* at, size_t length);
  void appendCopy(Span& span, const char* at, size_t length);

  std::string buf_;
  const char* raw_data_ = nullptr;  // the input of the last addRaw, copied at raw_offset_
  size_t raw_length_ = 0;
  size_t raw_offset_ = 0;
  Span first_;
  std::vector<HeaderSpan> spans_;
  size_t classified_ = 0;  // spans_[0, classified_) have their id
};

}  // namespace fulcrum::http
