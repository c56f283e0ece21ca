#pragma once
// Appends `s` as a JSON string literal. Well-formed UTF-8 sequences are copied unchanged;
// control bytes, DEL and each byte of an ill-formed sequence are escaped as \u00XX, so the
// output stays valid JSON (and valid UTF-8) whatever bytes a client sent.

#include <string>
#include <string_view>

namespace fulcrum::core {

void appendJsonString(std::string& out, std::string_view s);

}  // namespace fulcrum::core
