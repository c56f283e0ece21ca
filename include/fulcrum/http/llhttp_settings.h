#pragma once
// The two llhttp callback sets of the request and response parsers: one while a head is parsed
// and one for the body. Worker-independent, built once per parser type.

#include <llhttp.h>

#include <cstddef>

namespace fulcrum::http {

// llhttp callbacks of a parser whose heads go through the HeadScanner: while a head is parsed,
// the scanner records the headers, so llhttp reports none; in a body, header fields are
// trailers, given to `on_trailer`. `common` has every other callback.
struct HeadBodySettings {
  llhttp_settings_t head;
  llhttp_settings_t body;
};

inline HeadBodySettings headAndBodySettings(const llhttp_settings_t& common,
                                            llhttp_data_cb on_trailer) {
  HeadBodySettings s{common, common};
  s.body.on_header_field = on_trailer;
  s.body.on_header_value = on_trailer;
  return s;
}

// Chunk extensions are dropped when a body is re-framed, but a chunk line that breaks RFC 9112
// 7.1.1's grammar is refused like any other bad one. llhttp 8.1 takes an empty extension name
// or value (";=b", ";a=", ";;a"): each name and value is counted here, and an empty one is
// refused with Parser::refuseChunkLine(why). Parser::chunkExtensionBytes(n) is also given
// every byte, to bound what it accepts; it returns what the callback returns.
struct ChunkExtensionPart {
  size_t length = 0;
};

template <class Parser>
void checkChunkExtensions(llhttp_settings_t& v) {
  v.on_chunk_extension_name =
      v.on_chunk_extension_value = [](llhttp_t* p, const char*, size_t n) -> int {
    auto* r = static_cast<Parser*>(p->data);
    r->ext_part_.length += n;
    return r->chunkExtensionBytes(n);
  };
  v.on_chunk_extension_name_complete =
      v.on_chunk_extension_value_complete = [](llhttp_t* p) -> int {
    auto* r = static_cast<Parser*>(p->data);
    if (r->ext_part_.length == 0) return r->refuseChunkLine("empty chunk extension name or value");
    r->ext_part_.length = 0;
    return 0;
  };
}

}  // namespace fulcrum::http
