// OpenSSL's error queue of this thread as one line ("a; b"), emptied; for
// the messages of code that already links OpenSSL (header only, so
// ws_common stays free of it).
#pragma once

#include <openssl/err.h>

#include <string>

namespace ws {

inline std::string SslErrors() {
  std::string out;
  char err[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, err, sizeof err);
    if (!out.empty()) out += "; ";
    out += err;
  }
  return out.empty() ? "unknown error" : out;
}

}  // namespace ws
