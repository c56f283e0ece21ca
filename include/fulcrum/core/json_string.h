#pragma once
// Appends `s` as a JSON string literal. Control bytes and bytes >= 0x7f are escaped as \u00XX,
// so the output stays valid JSON (and ASCII) whatever bytes a client sent.

#include <string>
#include <string_view>

namespace fulcrum::core {

void appendJsonString(std::string& out, std::string_view s);

}  // namespace fulcrum::core
