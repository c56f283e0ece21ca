// libFuzzer target over the HTTP response path: strict head scanner + llhttp response parser +
// the head re-written for the client. Backends are not trusted, and large Content-Length
// bodies do not all pass through the parser: the session splices most of them to the client
// (ClientSession::onUpstreamReadable) and tells the parser with skipBody(). Besides "no crash,
// no sanitizer report" it checks:
//  - the outcome does not depend on how the bytes were split into reads, nor on which body
//    bytes were spliced past the parser (its last byte too): same responses, same bodies,
//    same end positions;
//  - a complete Content-Length body has exactly that length, and a body-less answer (HEAD,
//    1xx, 204, 304) has none;
//  - the head written for the client parses back (with a fresh parser) to the same status and
//    the framing the proxy announced, so the client frames the body as the proxy sends it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fulcrum/http/header_rules.h"
#include "fulcrum/http/response_parser.h"

using namespace fulcrum::http;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Bodies to the client as the session frames them: the parser's decoded bytes, or the raw bytes
// it spliced (Content-Length bodies only, so raw and decoded are the same bytes).
struct Recorder : ResponseSink {
  std::string body;
  std::vector<std::string> heads;  // "status framing length keep-alive" of each final head
  int interim = 0;
  bool head_request = false;

  void onInformational(const ResponseHead& h) override {
    check(h.status >= 100 && h.status < 200 && h.status != 101);
    ++interim;
  }
  void onResponseHead(const ResponseHead& h) override {
    heads.push_back(std::to_string(h.status) + " " + std::to_string(static_cast<int>(h.framing)) +
                    " " + std::to_string(h.content_length) + " " + (h.keep_alive ? "k" : "c"));
    if (head_request || h.status == 204 || h.status == 304) check(h.framing == BodyFraming::kNone);
    checkClientView(h);
  }
  void onResponseBody(const char* d, size_t n) override { body.append(d, n); }

  // The framing the session uses towards an HTTP/1.1 client: the backend's, except that a body
  // delimited by the backend's close is re-chunked.
  void checkClientView(const ResponseHead& h) const {
    BodyFraming out = h.framing == BodyFraming::kUntilClose ? BodyFraming::kChunked : h.framing;
    std::string wire;
    writeResponseHead(h,
                      {.head_request = head_request,
                       .framing = out,
                       .content_length = h.content_length,
                       .request_id = "0123456789abcdef"},
                      wire);
    if (wire.size() >= ResponseParser::kMaxHeadBytes) return;  // the proxy's additions
    ResponseParser client;
    client.expect(head_request, /*upgrade_requested=*/h.status == 101);
    struct HeadOnly : ResponseSink {
      BodyFraming framing = BodyFraming::kNone;
      uint64_t length = 0;
      uint16_t status = 0;
      void onInformational(const ResponseHead&) override { check(false); }
      void onResponseHead(const ResponseHead& g) override {
        framing = g.framing;
        length = g.content_length;
        status = g.status;
      }
      void onResponseBody(const char*, size_t) override { check(false); }
    } sink;
    auto r = client.feed(wire.data(), wire.size(), &sink);
    check(r.status != ResponseParser::Status::kError);
    check(r.consumed == wire.size());
    check(client.headDone());
    check(sink.status == h.status);
    check(sink.framing == out);
    if (out == BodyFraming::kContentLength) check(sink.length == h.content_length);
  }
};

struct Outcome {
  std::vector<std::string> heads;
  std::vector<std::string> bodies;
  std::vector<size_t> ends;  // input offset where each response ended
  int interim = 0;
  bool error = false;
  bool upgraded = false;
};

// Feeds `in` in pieces of `piece` bytes, up to four responses in a row (each after expect(),
// as for the next request on a reused connection). With skip_max > 0, up to skip_max bytes of
// a Content-Length body at a time go past the parser, as a splice does (skipBody), and when the
// last byte goes with them the parser is told so (skipRestOfBody).
Outcome run(std::string_view in, size_t piece, size_t skip_max, bool head_request, bool upgrade) {
  Outcome o;
  Recorder rec;
  rec.head_request = head_request;
  ResponseParser parser;
  parser.expect(head_request, upgrade);
  size_t pos = 0;
  bool finished = false;
  for (int guard = 0; guard < 1 << 20 && !finished; ++guard) {
    ResponseParser::Result r{ResponseParser::Status::kNeedMore, 0};
    const uint64_t left = skip_max > 0 && pos < in.size() ? parser.lengthBodyLeft() : 0;
    if (left > 0) {
      size_t k = std::min<uint64_t>({left, skip_max, in.size() - pos});
      rec.body.append(in.data() + pos, k);
      pos += k;
      if (k < left) {
        parser.skipBody(k);
        continue;
      }
      parser.skipBody(k - 1);
      r = parser.skipRestOfBody();  // the last byte went too
      check(r.status == ResponseParser::Status::kComplete);
    } else if (pos < in.size()) {
      r = parser.feed(in.data() + pos, std::min(piece, in.size() - pos), &rec);
      pos += r.consumed;
      check(pos <= in.size());
    } else {
      r = parser.finish(&rec);  // the backend closed
      finished = true;
    }
    switch (r.status) {
      case ResponseParser::Status::kNeedMore:
        break;
      case ResponseParser::Status::kError:
        o.error = true;
        finished = true;
        break;
      case ResponseParser::Status::kUpgrade:
        check(upgrade);
        o.upgraded = true;
        o.ends.push_back(pos);
        finished = true;
        break;
      case ResponseParser::Status::kComplete:
        o.bodies.push_back(rec.body);
        rec.body.clear();
        o.ends.push_back(pos);
        if (o.ends.size() == 4 || pos == in.size()) {
          finished = true;
        } else {
          parser.expect(head_request, upgrade);
        }
        break;
    }
  }
  o.heads = rec.heads;
  o.interim = rec.interim;
  return o;
}

void checkBodies(const Outcome& o) {
  check(o.bodies.size() <= o.heads.size());
  for (size_t i = 0; i < o.bodies.size(); ++i) {
    // heads[i] is "status framing length keep-alive"
    std::string_view h = o.heads[i];
    size_t a = h.find(' '), b = h.find(' ', a + 1), c = h.find(' ', b + 1);
    int framing = std::stoi(std::string(h.substr(a + 1, b - a - 1)));
    uint64_t length = std::stoull(std::string(h.substr(b + 1, c - b - 1)));
    if (framing == static_cast<int>(BodyFraming::kContentLength))
      check(o.bodies[i].size() == length);
    if (framing == static_cast<int>(BodyFraming::kNone)) check(o.bodies[i].empty());
  }
}

bool same(const Outcome& x, const Outcome& y) {
  return x.heads == y.heads && x.bodies == y.bodies && x.ends == y.ends && x.interim == y.interim &&
         x.error == y.error && x.upgraded == y.upgraded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool head_request = data[0] & 1;
  const bool upgrade = data[0] & 2;
  const size_t piece = 1 + (data[0] >> 2);
  const size_t skip_max = 1 + data[1] * 7u;
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  Outcome whole = run(in, in.size() + 1, 0, head_request, upgrade);
  checkBodies(whole);
  check(same(whole, run(in, piece, 0, head_request, upgrade)));
  check(same(whole, run(in, piece, skip_max, head_request, upgrade)));
  return 0;
}
