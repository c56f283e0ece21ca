# llhttp 8.1 (Debian 12's node-llhttp) fails a valid chunk line with more than one chunk
# extension when an unquoted value is followed by ';' ("3;a=b;c=d" -> "Invalid character in
# chunk size", RFC 9112 7.1.1 allows it): the state that ends the value consumes the ';' and
# then hands over to the state that expects to read it. We compile a copy of llhttp.c with that
# one `p++` removed, so the ';' is read once, as after a quoted value. Any other llhttp version
# is used as shipped (with a warning): the pattern then is not there to patch.
#
# llhttp_patched_source(<src> <out-var>): sets <out-var> to the file to compile.
function(llhttp_patched_source src out_var)
  file(READ "${src}" text)
  set(broken "    p++;\n    goto s_n_llhttp__internal__n_invoke_llhttp__on_chunk_extension_value_complete_2;")
  set(fixed "    goto s_n_llhttp__internal__n_invoke_llhttp__on_chunk_extension_value_complete_2;")
  string(FIND "${text}" "${broken}" at)
  if(at EQUAL -1)
    message(WARNING "llhttp: chunk-extension patch not applicable to ${src}; compiled as shipped")
    set(${out_var} "${src}" PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "${broken}" "${fixed}" text "${text}")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/llhttp_patched.c")
  file(WRITE "${out}.tmp" "${text}")
  # Rewritten only when it changes, so a re-configure does not rebuild llhttp.
  file(COPY_FILE "${out}.tmp" "${out}" ONLY_IF_DIFFERENT)
  file(REMOVE "${out}.tmp")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${src}")
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()
