// HeadBuffer: first-line spans reported from the raw input are kept as offsets into its copy,
// across reads, and anything else is copied (the result is the same either way); header spans
// are offsets from the head's first byte, whichever read they arrived in.
#include "fulcrum/http/head_buffer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fulcrum::http {
namespace {

TEST(HttpHeadBuffer, SpansSplitAcrossReads) {
  HeadBuffer b;
  b.reset();
  std::string read1 = "GET /ab";
  std::string read2 = "c HTTP/1.1\r\nHo";
  std::string read3 = "st:  v1 \r\n\r\n";
  b.addRaw(read1.data(), read1.size());
  b.appendFirst(read1.data() + 4, 3);  // "/ab"
  read1.assign("xxxxxxx");             // the input may be reused once copied
  b.addRaw(read2.data(), read2.size());
  b.appendFirst(read2.data(), 1);  // "c"
  b.addRaw(read3.data(), read3.size());
  b.addHeader({19, 4}, {24, 4});  // "Host", "  v1 " minus its CR
  std::vector<Header> headers;
  b.build(headers);
  EXPECT_EQ(b.view(b.first()), "/abc");
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].name, "Host");
  EXPECT_EQ(headers[0].id, HeaderId::kHost);
  EXPECT_EQ(headers[0].value, "v1");  // trimmed
}

TEST(HttpHeadBuffer, NonContiguousAndForeignFirstLineSpansAreCopied) {
  HeadBuffer b;
  b.reset();
  std::string raw = "GET /a/b HTTP/1.1\r\n";
  b.addRaw(raw.data(), raw.size());
  b.appendFirst(raw.data() + 4, 2);  // "/a"
  b.appendFirst(raw.data() + 7, 1);  // "b": not adjacent, so the span moves and grows
  std::string foreign = "?q";
  b.appendFirst(foreign.data(), foreign.size());  // not from addRaw's input
  HeadBuffer::Span extra = b.appendExtra("/x");
  EXPECT_EQ(b.view(b.first()), "/ab?q");
  EXPECT_EQ(b.view(extra), "/x");
}

TEST(HttpHeadBuffer, ReleaseThenReuse) {
  HeadBuffer b;
  for (int i = 0; i < 3; ++i) {
    b.reset();
    std::string raw = "A: " + std::to_string(i) + "\r\n";
    b.addRaw(raw.data(), raw.size());
    b.addHeader({0, 1}, {2, 2});
    std::vector<Header> headers;
    b.build(headers);
    ASSERT_EQ(headers.size(), 1u);
    EXPECT_EQ(headers[0].value, std::to_string(i));
    b.release();
  }
}

}  // namespace
}  // namespace fulcrum::http
