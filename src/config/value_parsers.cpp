// Durations, sizes and addresses (CONFIG.md "Formats").
#include "fulcrum/config/value_parsers.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>

#include "fulcrum/config/config_loader.h"

namespace fulcrum::config {
namespace {

// Splits "123unit" into its digits and unit; false without leading digits or on overflow.
bool splitNumber(std::string_view text, uint64_t& number, std::string_view& unit) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || ptr != text.data() + digits) return false;
  unit = text.substr(digits);
  return true;
}

bool multiply(uint64_t value, uint64_t factor, uint64_t limit, uint64_t& out) {
  if (factor != 0 && value > limit / factor) return false;
  out = value * factor;
  return true;
}

bool allDigits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Address::socket of a resolved address. Appended piece by piece: GCC 12 at -O2 reports a
// false -Wrestrict for "[" + std::string(...).
std::string socketText(const sockaddr_storage& s) {
  char ip[INET6_ADDRSTRLEN] = "";
  std::string out;
  if (s.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&s);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    out.append(ip).append(":").append(std::to_string(ntohs(in->sin_port)));
    return out;
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&s);
  inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
  out.append("[").append(ip);
  if (in6->sin6_scope_id != 0) out.append("%").append(std::to_string(in6->sin6_scope_id));
  out.append("]:").append(std::to_string(ntohs(in6->sin6_port)));
  return out;
}

// An IP literal (no brackets) into `out.storage`; false when `host` is not one.
bool fillNumeric(const std::string& host, uint16_t port, int family, Address& out) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &result) != 0 || result == nullptr) {
    return false;
  }
  std::memcpy(&out.storage, result->ai_addr, result->ai_addrlen);
  out.length = static_cast<socklen_t>(result->ai_addrlen);
  out.socket = socketText(out.storage);
  freeaddrinfo(result);
  return true;
}

bool resolveName(const std::string& host, uint16_t port, Address& out, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    error = "cannot resolve \"" + host + "\": " + gai_strerror(rc);
    return false;
  }
  // One address per backend: prefer IPv4, since a name like `localhost` usually means the
  // 127.0.0.1 a local server listens on even where ::1 is listed first.
  const addrinfo* chosen = result;
  for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      chosen = ai;
      break;
    }
  }
  std::memcpy(&out.storage, chosen->ai_addr, chosen->ai_addrlen);
  out.length = static_cast<socklen_t>(chosen->ai_addrlen);
  out.socket = socketText(out.storage);
  freeaddrinfo(result);
  return true;
}

// Family, address bytes and port of a resolved address.
struct Endpoint {
  int family = 0;
  std::string_view ip;
  uint16_t port = 0;
  bool wildcard = false;
};

Endpoint endpointOf(const Address& a) {
  Endpoint e;
  e.family = a.storage.ss_family;
  if (e.family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
    e.ip = {reinterpret_cast<const char*>(&in->sin_addr), sizeof(in->sin_addr)};
    e.port = ntohs(in->sin_port);
    e.wildcard = in->sin_addr.s_addr == htonl(INADDR_ANY);
  } else if (e.family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
    e.ip = {reinterpret_cast<const char*>(&in6->sin6_addr), sizeof(in6->sin6_addr)};
    e.port = ntohs(in6->sin6_port);
    e.wildcard = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
  }
  return e;
}

}  // namespace

bool parseDuration(const std::string& text, Duration& out) {
  uint64_t number = 0;
  std::string_view unit;
  if (!splitNumber(text, number, unit)) return false;
  uint64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  } else {
    return false;
  }
  uint64_t ms = 0;
  // Bounded so that deadline arithmetic (now + duration) can never overflow.
  constexpr uint64_t kMaxMs = uint64_t{1} << 52;
  if (!multiply(number, factor, kMaxMs, ms)) return false;
  out = Duration(static_cast<Duration::rep>(ms));
  return true;
}

bool parseSize(const std::string& text, uint64_t& out) {
  uint64_t number = 0;
  std::string_view unit;
  if (!splitNumber(text, number, unit)) return false;
  uint64_t factor = 0;
  if (unit.empty()) {
    factor = 1;
  } else if (unit == "KiB") {
    factor = uint64_t{1} << 10;
  } else if (unit == "MiB") {
    factor = uint64_t{1} << 20;
  } else if (unit == "GiB") {
    factor = uint64_t{1} << 30;
  } else {
    return false;
  }
  return multiply(number, factor, std::numeric_limits<uint64_t>::max(), out);
}

bool parseAddress(const std::string& text, bool resolve, Address& out, std::string& error) {
  out = Address{};
  out.text = text;
  if (text.empty()) {
    error = "must not be empty (expected HOST:PORT or [IPv6]:PORT)";
    return false;
  }
  std::string port_text;
  bool bracketed = false;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      error = "missing ']' in \"" + text + "\" (expected [IPv6]:PORT)";
      return false;
    }
    out.host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      error = "missing :PORT after ']' in \"" + text + "\"";
      return false;
    }
    port_text = text.substr(close + 2);
    bracketed = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      error = "missing port in \"" + text + "\" (expected HOST:PORT or [IPv6]:PORT)";
      return false;
    }
    out.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      error = "an IPv6 address needs brackets: [" + out.host + "]:" + port_text;
      return false;
    }
  }
  if (out.host.empty()) {
    error = "missing host in \"" + text + "\"";
    return false;
  }
  uint64_t port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || !allDigits(port_text) || ec != std::errc() || port < 1 || port > 65535) {
    error = "invalid port \"" + port_text + "\" (must be 1..65535)";
    return false;
  }
  (void)ptr;
  out.port = static_cast<uint16_t>(port);

  if (bracketed) {
    // getaddrinfo rather than inet_pton: it also takes a scope ("fe80::1%eth0").
    if (!fillNumeric(out.host, out.port, AF_INET6, out)) {
      error = "\"" + out.host + "\" is not an IPv6 address";
      return false;
    }
    return true;
  }
  // inet_pton first: getaddrinfo would also take the legacy forms "10.1" and "1234".
  in_addr probe{};
  if (inet_pton(AF_INET, out.host.c_str(), &probe) == 1) {
    return fillNumeric(out.host, out.port, AF_INET, out);
  }
  // Looks like an IPv4 address but is not one ("10.0.0.256", "1234"): never a DNS name.
  if (std::all_of(out.host.begin(), out.host.end(),
                  [](unsigned char c) { return std::isdigit(c) || c == '.'; })) {
    error = "\"" + out.host + "\" is not a valid IPv4 address";
    return false;
  }
  if (!isValidHostName(out.host)) {
    error = "\"" + out.host + "\" is not a valid host name";
    return false;
  }
  if (!resolve) return true;  // a name, left unresolved (length 0)
  return resolveName(out.host, out.port, out, error);
}

bool parseListenAddress(const std::string& text, Address& out, std::string& error) {
  if (!parseAddress(text, false, out, error)) return false;
  if (out.length != 0) return true;
  if (toLower(out.host) == "localhost") {
    Address numeric = out;
    if (fillNumeric("127.0.0.1", out.port, AF_INET, numeric)) {
      out = numeric;
      return true;
    }
  }
  error =
      "a listener host must be an IP address (0.0.0.0, ::, 127.0.0.1, [::1]) or localhost, "
      "got \"" +
      out.host + "\"";
  return false;
}

bool isValidHostName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  if (name.back() == '.') name.remove_suffix(1);  // a fully qualified "example.com."
  bool all_numeric_last = false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (unsigned char c : label) {
      if (!std::isalnum(c) && c != '-' && c != '_') return false;
    }
    all_numeric_last = allDigits(label);
    start = end + 1;
  }
  return !all_numeric_last;
}

bool sameEndpoint(const Address& a, const Address& b) {
  if (a.length == 0 || b.length == 0) return false;
  Endpoint x = endpointOf(a), y = endpointOf(b);
  return x.family == y.family && x.port == y.port && x.ip == y.ip;
}

bool addressesOverlap(const Address& a, const Address& b) {
  if (a.length == 0 || b.length == 0) return false;
  Endpoint x = endpointOf(a), y = endpointOf(b);
  if (x.port != y.port) return false;
  if (x.family == y.family && (x.ip == y.ip || x.wildcard || y.wildcard)) return true;
  // A dual-stack "::" also takes every IPv4 address of its port.
  return (x.family == AF_INET6 && x.wildcard) || (y.family == AF_INET6 && y.wildcard);
}

std::string formatDuration(Duration d) {
  auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

bool isToken(std::string_view text) {
  if (text.empty()) return false;
  static constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={} \t";
  for (unsigned char c : text) {
    if (c <= 32 || c >= 127 || kSeparators.find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace fulcrum::config
