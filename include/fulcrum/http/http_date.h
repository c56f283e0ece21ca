#pragma once
// The Date header (RFC 9110 6.6.1): the proxy adds one to its own answers and to forwarded
// responses that came without one (a recipient with a clock must). Formatted at most once per
// second per worker thread: a request costs no clock read or formatting of its own.

#include <cstdint>
#include <ctime>
#include <string_view>

namespace fulcrum::http {

// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT": always this many bytes.
inline constexpr size_t kHttpDateLength = 29;

// Writes `t` (seconds since the epoch, UTC) as an IMF-fixdate to out[0..kHttpDateLength).
void formatHttpDate(std::time_t t, char* out);

// The current time as an IMF-fixdate. `loop_us` is the caller's loop time (monotonic µs,
// core::Worker::loopTimeUs): the cached text is reused until the wall-clock second it shows
// has ended. Per thread; the view stays valid until the next call on the same thread.
std::string_view httpDateNow(uint64_t loop_us);

}  // namespace fulcrum::http
