#include "fulcrum/http/message.h"

#include <algorithm>
#include <array>

namespace fulcrum::http {

namespace {

constexpr std::array<unsigned char, 256> kLower = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return t;
}();

constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }
  for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) t[c] = true;
  return t;
}();

// `name` equals the lower-case literal `lower` (same length, checked by the caller).
inline bool sameLower(std::string_view name, std::string_view lower) {
  for (size_t i = 0; i < lower.size(); ++i) {
    if (kLower[static_cast<unsigned char>(name[i])] != static_cast<unsigned char>(lower[i]))
      return false;
  }
  return true;
}

// One of the three X-Forwarded-* names (`lower`) spelt with '_' for one or both of its
// separators ("x" sep "forwarded" sep ...); the exact spelling was checked before.
inline bool forwardedLookalike(std::string_view name, std::string_view lower) {
  if (name[1] != '_' && name[11] != '_') return false;  // cheap gate: most names stop here
  for (size_t i = 0; i < lower.size(); ++i) {
    unsigned char c = kLower[static_cast<unsigned char>(name[i])];
    if ((c == '_' ? '-' : c) != static_cast<unsigned char>(lower[i])) return false;
  }
  return true;
}

}  // namespace

bool equalBytesIgnoreCase(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (kLower[static_cast<unsigned char>(a[i])] != kLower[static_cast<unsigned char>(b[i])])
      return false;
  }
  return true;
}

HeaderId classifyHeader(std::string_view n) {
  // By length first: most names are rejected by one switch and at most two comparisons.
  switch (n.size()) {
    case 2:
      if (sameLower(n, "te")) return HeaderId::kTe;
      break;
    case 4:
      if (sameLower(n, "host")) return HeaderId::kHost;
      if (sameLower(n, "date")) return HeaderId::kDate;
      break;
    case 6:
      if (sameLower(n, "cookie")) return HeaderId::kCookie;
      if (sameLower(n, "expect")) return HeaderId::kExpect;
      break;
    case 7:
      if (sameLower(n, "upgrade")) return HeaderId::kUpgrade;
      if (sameLower(n, "trailer")) return HeaderId::kTrailer;
      break;
    case 10:
      if (sameLower(n, "connection")) return HeaderId::kConnection;
      if (sameLower(n, "keep-alive")) return HeaderId::kKeepAlive;
      break;
    case 12:
      if (sameLower(n, "x-request-id")) return HeaderId::kXRequestId;
      if (sameLower(n, "max-forwards")) return HeaderId::kMaxForwards;
      break;
    case 14:
      if (sameLower(n, "content-length")) return HeaderId::kContentLength;
      break;
    case 15:
      if (sameLower(n, "x-forwarded-for")) return HeaderId::kXForwardedFor;
      if (forwardedLookalike(n, "x-forwarded-for")) return HeaderId::kXForwardedLookalike;
      break;
    case 16:
      if (sameLower(n, "x-forwarded-host")) return HeaderId::kXForwardedHost;
      if (sameLower(n, "proxy-connection")) return HeaderId::kProxyConnection;
      if (forwardedLookalike(n, "x-forwarded-host")) return HeaderId::kXForwardedLookalike;
      break;
    case 17:
      if (sameLower(n, "transfer-encoding")) return HeaderId::kTransferEncoding;
      if (sameLower(n, "x-forwarded-proto")) return HeaderId::kXForwardedProto;
      if (forwardedLookalike(n, "x-forwarded-proto")) return HeaderId::kXForwardedLookalike;
      break;
    default:
      break;
  }
  return HeaderId::kOther;
}

TransferCodings readTransferCodings(const std::vector<Header>& headers) {
  TransferCodings te;
  for (const Header& h : headers) {
    if (h.id != HeaderId::kTransferEncoding) continue;
    te.present = true;
    size_t members = 0;
    forEachListElement(h.value, [&](std::string_view coding) {
      ++members;
      te.chunked_last = equalsIgnoreCase(coding, "chunked");
      if (!isToken(coding)) te.malformed = true;
      return true;
    });
    // As many members as the commas make: fewer means an empty one. (A comma inside a quoted
    // parameter would miscount, but a quote is no token byte: malformed either way.)
    if (members != 1 + static_cast<size_t>(std::count(h.value.begin(), h.value.end(), ',')))
      te.malformed = true;
    te.count += members;
  }
  return te;
}

const Header* findHeader(const std::vector<Header>& headers, std::string_view name) {
  // A look-alike id covers several names: those are compared by name like any other.
  if (HeaderId id = classifyHeader(name);
      id != HeaderId::kOther && id != HeaderId::kXForwardedLookalike)
    return findHeader(headers, id);
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool isTokenChar(unsigned char c) { return kTokenChar[c]; }

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool splitRequestLine(std::string_view bytes, std::string_view& method, std::string_view& target) {
  size_t start = bytes.find_first_not_of("\r\n");
  if (start == std::string_view::npos) return false;
  bytes.remove_prefix(start);
  size_t end = bytes.find("\r\n");
  if (end == std::string_view::npos) return false;
  std::string_view line = bytes.substr(0, end);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).substr(0, 5) != "HTTP/") return false;
  std::string_view m = line.substr(0, sp1), t = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!isToken(m) || t.empty()) return false;
  for (unsigned char c : t) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  method = m;
  target = t;
  return true;
}

}  // namespace fulcrum::http
