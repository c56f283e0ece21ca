// appendJsonString: well-formed UTF-8 is kept, every other byte >= 0x80 is escaped alone.
#include "fulcrum/core/json_string.h"

#include <gtest/gtest.h>

namespace fulcrum::core {
namespace {

std::string json(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

TEST(JsonString, AsciiControlQuoteAndBackslash) {
  EXPECT_EQ(json("/a b"), R"("/a b")");
  EXPECT_EQ(json("q=\"x\"\\"), R"("q=\"x\"\\")");
  EXPECT_EQ(json(std::string_view("\x00\x01\n\x1f\x7f", 5)), R"("\u0000\u0001\u000a\u001f\u007f")");
  EXPECT_EQ(json(""), R"("")");
}

TEST(JsonString, WellFormedUtf8PassesThrough) {
  EXPECT_EQ(json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");                            // U+00E9, 2 bytes
  EXPECT_EQ(json("\xc2\x80\xdf\xbf"), "\"\xc2\x80\xdf\xbf\"");                  // U+0080, U+07FF
  EXPECT_EQ(json("\xe2\x82\xac"), "\"\xe2\x82\xac\"");                          // U+20AC, 3 bytes
  EXPECT_EQ(json("\xe0\xa0\x80\xef\xbf\xbf"), "\"\xe0\xa0\x80\xef\xbf\xbf\"");  // U+0800, U+FFFF
  EXPECT_EQ(json("\xed\x9f\xbf\xee\x80\x80"), "\"\xed\x9f\xbf\xee\x80\x80\"");  // around surrogates
  EXPECT_EQ(json("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");                  // U+1F600, 4 bytes
  EXPECT_EQ(json("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"),
            "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");  // U+10000, U+10FFFF
  // Mixed with escapes: only what needs escaping is.
  EXPECT_EQ(json("\"\xc3\xa9\"\x01"), "\"\\\"\xc3\xa9\\\"\\u0001\"");
}

TEST(JsonString, OverlongFormsAreEscapedByteByByte) {
  EXPECT_EQ(json("\xc0\xaf"), R"("\u00c0\u00af")");  // '/' in 2 bytes
  EXPECT_EQ(json("\xc1\xbf"), R"("\u00c1\u00bf")");
  EXPECT_EQ(json("\xe0\x80\xaf"), R"("\u00e0\u0080\u00af")");  // '/' in 3 bytes
  EXPECT_EQ(json("\xe0\x9f\xbf"), R"("\u00e0\u009f\u00bf")");
  EXPECT_EQ(json("\xf0\x8f\xbf\xbf"), R"("\u00f0\u008f\u00bf\u00bf")");
}

TEST(JsonString, SurrogatesAndBeyondU10FFFFAreEscaped) {
  EXPECT_EQ(json("\xed\xa0\x80"), R"("\u00ed\u00a0\u0080")");            // U+D800
  EXPECT_EQ(json("\xed\xbf\xbf"), R"("\u00ed\u00bf\u00bf")");            // U+DFFF
  EXPECT_EQ(json("\xf4\x90\x80\x80"), R"("\u00f4\u0090\u0080\u0080")");  // U+110000
  EXPECT_EQ(json("\xf5\x80\x80\x80"), R"("\u00f5\u0080\u0080\u0080")");
  EXPECT_EQ(json("\xfe\xff"), R"("\u00fe\u00ff")");
}

TEST(JsonString, TruncatedSequencesAreEscaped) {
  // At the end of the string.
  EXPECT_EQ(json("a\xc3"), R"("a\u00c3")");
  EXPECT_EQ(json("a\xe2\x82"), R"("a\u00e2\u0082")");
  EXPECT_EQ(json("a\xf0\x9f\x98"), R"("a\u00f0\u009f\u0098")");
  // Mid-string: the byte that cuts the sequence short is handled on its own, here as ASCII
  // and as the start of a well-formed sequence.
  EXPECT_EQ(json("\xe2\x82z"), R"("\u00e2\u0082z")");
  EXPECT_EQ(json("\xf0\x9f\xc3\xa9"), "\"\\u00f0\\u009f\xc3\xa9\"");
  EXPECT_EQ(json("\xc3\"x"), R"("\u00c3\"x")");
}

TEST(JsonString, LoneContinuationBytesAreEscaped) {
  EXPECT_EQ(json("\x80"), R"("\u0080")");
  EXPECT_EQ(json("a\xbfz"), R"("a\u00bfz")");
  // One too many after a complete sequence.
  EXPECT_EQ(json("\xc3\xa9\xa9"), "\"\xc3\xa9\\u00a9\"");
}

}  // namespace
}  // namespace fulcrum::core
