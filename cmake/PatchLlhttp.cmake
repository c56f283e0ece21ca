# llhttp 8.1 (Debian 12's node-llhttp) gets two parts of RFC 9112 7.1.1's chunk-extension
# grammar wrong, both fixed in later llhttp releases:
#  1. A ';' after an unquoted extension value is swallowed, so "3;a=b;c=d" fails with "Invalid
#     character in chunk size": the state that ends the value consumes the ';' and then hands
#     over to the state that expects to read it. Fix: that one `p++` goes.
#  2. A quoted value may not contain a quoted-pair (RFC 9110 5.6.4: "\" then HTAB, SP, VCHAR
#     or obs-text), so "3;a=\"b\\\"c\"" is refused. Fix: a state that takes the escaped byte.
# We compile a patched copy of llhttp.c. The patch is all or nothing: on another llhttp
# version, where a pattern is not found, llhttp.c is compiled as shipped, with a warning.
#
# llhttp_patched_source(<src> <out-var>): sets <out-var> to the file to compile.
function(llhttp_patched_source src out_var)
  file(READ "${src}" text)
  set(prefix "s_n_llhttp__internal__n_")

  # 1. The ';' after an unquoted value.
  set(from1 "    p++;\n    goto ${prefix}invoke_llhttp__on_chunk_extension_value_complete_2;")
  set(to1 "    goto ${prefix}invoke_llhttp__on_chunk_extension_value_complete_2;")
  # 2a. A state for the byte after a backslash in a quoted value (in both copies of the enum).
  set(from2 "  ${prefix}chunk_extension_quoted_value,\n")
  set(to2 "  ${prefix}chunk_extension_quoted_value,\n  ${prefix}chunk_extension_quoted_pair,\n")
  # 2b. The quoted value goes there on a backslash.
  set(from3 "        return ${prefix}chunk_extension_quoted_value;\n      }\n      switch (lookup_table")
  set(to3 "        return ${prefix}chunk_extension_quoted_value;\n      }\n      if (*p == '\\\\') {\n        p++;\n        goto ${prefix}chunk_extension_quoted_pair;\n      }\n      switch (lookup_table")
  # 2c. The state: HTAB, SP, VCHAR or obs-text, then back to the quoted value; anything else
  #     is the error a bad byte in a quoted value gets.
  set(from4 "    case ${prefix}invoke_llhttp__on_chunk_extension_value_complete_2:\n")
  set(to4 "    case ${prefix}chunk_extension_quoted_pair:\n    ${prefix}chunk_extension_quoted_pair: {\n      if (p == endp) {\n        return ${prefix}chunk_extension_quoted_pair;\n      }\n      if (*p == 9 || (*p >= 32 && *p != 127)) {\n        p++;\n        goto ${prefix}chunk_extension_quoted_value;\n      }\n      goto ${prefix}span_end_llhttp__on_chunk_extension_value_2;\n    }\n${from4}")

  foreach(i 1 2 3 4)
    string(FIND "${text}" "${from${i}}" at)
    if(at EQUAL -1)
      message(WARNING "llhttp: chunk-extension patch ${i} not applicable to ${src}; compiled as shipped")
      set(${out_var} "${src}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  foreach(i 1 2 3 4)
    string(REPLACE "${from${i}}" "${to${i}}" text "${text}")
  endforeach()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/llhttp_patched.c")
  file(WRITE "${out}.tmp" "${text}")
  # Rewritten only when it changes, so a re-configure does not rebuild llhttp.
  file(COPY_FILE "${out}.tmp" "${out}" ONLY_IF_DIFFERENT)
  file(REMOVE "${out}.tmp")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${src}" "${CMAKE_CURRENT_LIST_FILE}")
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()
