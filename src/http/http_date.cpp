#include "fulcrum/http/http_date.h"

#include <time.h>

namespace fulcrum::http {

namespace {

constexpr char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

char* two(char* p, int v) {
  *p++ = static_cast<char>('0' + v / 10);
  *p++ = static_cast<char>('0' + v % 10);
  return p;
}

struct Cache {
  char text[kHttpDateLength];
  uint64_t since_us = 0;        // loop time it was formatted at
  uint64_t valid_until_us = 0;  // loop time at which the shown second has ended
  bool set = false;
};

thread_local Cache cache;

}  // namespace

void formatHttpDate(std::time_t t, char* out) {
  // By hand rather than strftime: its %a and %b follow the locale.
  std::tm tm{};
  gmtime_r(&t, &tm);
  char* p = out;
  for (int i = 0; i < 3; ++i) *p++ = kDays[tm.tm_wday][i];
  *p++ = ',';
  *p++ = ' ';
  p = two(p, tm.tm_mday);
  *p++ = ' ';
  for (int i = 0; i < 3; ++i) *p++ = kMonths[tm.tm_mon][i];
  *p++ = ' ';
  int year = tm.tm_year + 1900;
  p = two(p, year / 100 % 100);
  p = two(p, year % 100);
  *p++ = ' ';
  p = two(p, tm.tm_hour);
  *p++ = ':';
  p = two(p, tm.tm_min);
  *p++ = ':';
  p = two(p, tm.tm_sec);
  for (char c : {' ', 'G', 'M', 'T'}) *p++ = c;
}

std::string_view httpDateNow(uint64_t loop_us) {
  // A loop time before the formatting one is another loop's clock on this thread (or a test's):
  // formatted again rather than trusted.
  if (!cache.set || loop_us < cache.since_us || loop_us >= cache.valid_until_us) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    formatHttpDate(now.tv_sec, cache.text);
    // Until the wall clock's next second, measured on the loop's (monotonic) clock.
    cache.since_us = loop_us;
    cache.valid_until_us = loop_us + (1'000'000'000 - static_cast<uint64_t>(now.tv_nsec)) / 1000;
    cache.set = true;
  }
  return {cache.text, kHttpDateLength};
}

}  // namespace fulcrum::http
