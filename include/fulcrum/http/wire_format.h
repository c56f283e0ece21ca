#pragma once
// Small writers for the per-request hot path: integers as decimal or hex text into a caller's
// buffer, without format-string parsing or allocation. Pure.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace fulcrum::http {

// Longest output of writeDecimal / writeHex for a uint64_t.
inline constexpr size_t kMaxDecimalDigits = 20;
inline constexpr size_t kMaxHexDigits = 16;

// Writes `v` in decimal at `out`; returns the end.
inline char* writeDecimal(char* out, uint64_t v) {
  char tmp[kMaxDecimalDigits];
  char* p = tmp + sizeof tmp;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  size_t n = static_cast<size_t>(tmp + sizeof tmp - p);
  std::memcpy(out, p, n);
  return out + n;
}

// Writes `v` in lower-case hex (no leading zeros) at `out`; returns the end.
inline char* writeHex(char* out, uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char tmp[kMaxHexDigits];
  char* p = tmp + sizeof tmp;
  do {
    *--p = kDigits[v & 0xf];
    v >>= 4;
  } while (v != 0);
  size_t n = static_cast<size_t>(tmp + sizeof tmp - p);
  std::memcpy(out, p, n);
  return out + n;
}

// A chunk's size line, `size` in hex and CRLF, at `out`; returns the end. Room needed:
// kMaxChunkSizeLine.
inline constexpr size_t kMaxChunkSizeLine = kMaxHexDigits + 2;
inline char* writeChunkSizeLine(char* out, uint64_t size) {
  out = writeHex(out, size);
  *out++ = '\r';
  *out++ = '\n';
  return out;
}

// Copies `s` at `out`; returns the end.
inline char* writeBytes(char* out, std::string_view s) {
  if (!s.empty()) std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

}  // namespace fulcrum::http
