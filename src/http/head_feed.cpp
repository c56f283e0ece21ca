#include "fulcrum/http/head_feed.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fulcrum/http/header_span_check.h"
#include "fulcrum/http/message.h"

namespace fulcrum::http {

namespace {

constexpr char kBlankLine[] = "\r\n";

llhttp_errno_t executeLines(llhttp_t* parser, HeadBuffer& buf, const char** end) {
  *end = nullptr;
  buf.classify();
  const char* base = buf.bytes().data();
  size_t run_start = 0, run_end = 0;  // [start, end) of adjacent lines not yet given
  auto give = [&] {
    return run_end == run_start ? HPE_OK
                                : llhttp_execute(parser, base + run_start, run_end - run_start);
  };
  for (const HeadBuffer::HeaderSpan& h : buf.headerSpans()) {
    if (!llhttpActsOn(h.id)) continue;
    if (h.name.offset != run_end) {  // not next to the run: the run goes, a new one starts
      if (llhttp_errno_t err = give(); err != HPE_OK) return err;
      run_start = h.name.offset;
    }
    run_end = h.value.offset + h.value.length + 2;  // the value's CRLF
  }
  if (llhttp_errno_t err = give(); err != HPE_OK) return err;
  *end = kBlankLine + 2;
  return llhttp_execute(parser, kBlankLine, 2);
}

}  // namespace

llhttp_errno_t executeHeaderLines(llhttp_t* parser, HeadBuffer& buf,
                                  [[maybe_unused]] size_t head_length,
                                  [[maybe_unused]] HeadVerdictSlot* slot, const char** end) {
#ifdef FULCRUM_CHECK_HEADER_SPANS
  *slot = {};
  llhttp_errno_t err = executeLines(parser, buf, end);
  crossCheckHead(static_cast<llhttp_type_t>(parser->type), buf, head_length, *slot);
  return err;
#else
  return executeLines(parser, buf, end);
#endif
}

bool llhttpFramingAgrees(const llhttp_t& parser, bool chunked, const uint64_t* content_length) {
  const uint64_t flags = parser.flags;
  if (chunked) return (flags & F_CHUNKED) != 0;
  if ((flags & (F_CHUNKED | F_TRANSFER_ENCODING)) != 0) return false;
  return content_length == nullptr ||
         ((flags & F_CONTENT_LENGTH) != 0 && parser.content_length == *content_length);
}

LlhttpHeadVerdict LlhttpHeadVerdict::of(const llhttp_t& p) {
  return {.reached = true,
          .method = p.method,
          .major = p.http_major,
          .minor = p.http_minor,
          .upgrade = p.upgrade,
          .flags = p.flags,
          .status = p.status_code,
          .content_length = p.content_length};
}

LlhttpHeadVerdict parseWholeHead(llhttp_type_t type, const HeadBuffer& buf, size_t head_length,
                                 bool check_spans) {
  struct State {
    LlhttpHeadVerdict verdict;
    HeaderSpanCheck spans;
  } state;
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
    static_cast<State*>(p->data)->spans.field(at, n);
    return 0;
  };
  settings.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
    static_cast<State*>(p->data)->spans.value(at, n);
    return 0;
  };
  settings.on_header_value_complete = [](llhttp_t* p) {
    static_cast<State*>(p->data)->spans.valueComplete();
    return 0;
  };
  settings.on_headers_complete = [](llhttp_t* p) {
    static_cast<State*>(p->data)->verdict = LlhttpHeadVerdict::of(*p);
    return static_cast<int>(HPE_PAUSED);
  };
  llhttp_t parser;
  llhttp_init(&parser, type, &settings);
  parser.data = &state;
  std::string_view head = buf.bytes().substr(0, head_length);
  if (llhttp_execute(&parser, head.data(), head.size()) == HPE_INVALID_METHOD) {
    // An extension method: the request parser gave llhttp a stand-in for it, and so does this
    // (RequestParser::feedFirstLine).
    std::string_view method = requestMethodOf(head);
    size_t end = static_cast<size_t>(method.data() - head.data()) + method.size();
    if (!method.empty() && end < head.size()) {
      std::string stand_in = "GET" + std::string(head.substr(end));
      state = State{};
      llhttp_reset(&parser);
      llhttp_execute(&parser, stand_in.data(), stand_in.size());
    }
  }
  if (check_spans && state.verdict.reached) {
    std::vector<Header> headers;
    for (const HeadBuffer::HeaderSpan& h : buf.headerSpans())
      headers.emplace_back(buf.view(h.name), trimOws(buf.view(h.value)));
    state.spans.verify(headers);
  }
  return state.verdict;
}

#ifdef FULCRUM_CHECK_HEADER_SPANS
void crossCheckHead(llhttp_type_t type, const HeadBuffer& buf, size_t head_length,
                    const LlhttpHeadVerdict& reduced) {
  LlhttpHeadVerdict whole = parseWholeHead(type, buf, head_length, true);
  if (whole == reduced) return;
  auto show = [](const char* what, const LlhttpHeadVerdict& v) {
    std::fprintf(stderr,
                 "  %s: reached %d method %d version %d.%d status %d flags %#x upgrade %d "
                 "content-length %llu\n",
                 what, v.reached, v.method, v.major, v.minor, v.status, v.flags, v.upgrade,
                 static_cast<unsigned long long>(v.content_length));
  };
  std::fprintf(stderr,
               "llhttp's verdict on a head differs when it is given only the lines it "
               "acts on:\n");
  show("whole head", whole);
  show("framing lines", reduced);
  std::fprintf(stderr, "  head: [%.*s]\n", static_cast<int>(head_length), buf.bytes().data());
  std::abort();
}
#endif

}  // namespace fulcrum::http
