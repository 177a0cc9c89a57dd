// Base64 (RFC 4648, with padding), through OpenSSL.
#pragma once

#include <string>
#include <string_view>

namespace ws {

std::string EncodeBase64(std::string_view bytes);
// "" for text that is not base64.
std::string DecodeBase64(std::string_view b64);

}  // namespace ws
