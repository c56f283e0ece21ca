// HeadBuffer: spans reported from the raw input are kept as offsets into its copy, across
// reads, and anything else is copied (the result is the same either way).
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
  std::string read3 = "st: v1\r\n\r\n";
  b.addRaw(read1.data(), read1.size());
  b.appendFirst(read1.data() + 4, 3);  // "/ab"
  read1.assign("xxxxxxx");             // the input may be reused once copied
  b.addRaw(read2.data(), read2.size());
  b.appendFirst(read2.data(), 1);       // "c"
  b.appendField(read2.data() + 12, 2);  // "Ho"
  b.addRaw(read3.data(), read3.size());
  b.appendField(read3.data(), 2);  // "st"
  b.appendValue(read3.data() + 4, 2);
  b.valueComplete();
  std::vector<Header> headers;
  b.build(headers);
  EXPECT_EQ(b.view(b.first()), "/abc");
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].name, "Host");
  EXPECT_EQ(headers[0].id, HeaderId::kHost);
  EXPECT_EQ(headers[0].value, "v1");
}

TEST(HttpHeadBuffer, NonContiguousAndForeignSpansAreCopied) {
  HeadBuffer b;
  b.reset();
  std::string raw = "Name: value-one\r\nX: y\r\n";
  b.addRaw(raw.data(), raw.size());
  b.appendField(raw.data(), 4);
  b.appendValue(raw.data() + 6, 5);   // "value"
  b.appendValue(raw.data() + 20, 1);  // "y": not adjacent, so the value moves and grows
  b.valueComplete();
  std::string foreign = "Other";
  b.appendField(foreign.data(), foreign.size());  // not from addRaw's input
  b.appendValue(raw.data() + 11, 4);              // "-one"
  b.valueComplete();
  HeadBuffer::Span extra = b.appendExtra("/x");
  std::vector<Header> headers;
  b.build(headers);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].name, "Name");
  EXPECT_EQ(headers[0].value, "valuey");
  EXPECT_EQ(headers[1].name, "Other");
  EXPECT_EQ(headers[1].value, "-one");
  EXPECT_EQ(b.view(extra), "/x");
}

TEST(HttpHeadBuffer, ReleaseThenReuse) {
  HeadBuffer b;
  for (int i = 0; i < 3; ++i) {
    b.reset();
    std::string raw = "A: " + std::to_string(i) + "\r\n";
    b.addRaw(raw.data(), raw.size());
    b.appendField(raw.data(), 1);
    b.appendValue(raw.data() + 3, 1);
    b.valueComplete();
    std::vector<Header> headers;
    b.build(headers);
    ASSERT_EQ(headers.size(), 1u);
    EXPECT_EQ(headers[0].value, std::to_string(i));
    b.release();
  }
}

}  // namespace
}  // namespace fulcrum::http
