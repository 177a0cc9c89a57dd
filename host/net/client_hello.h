// ClientHello: what a TLS client says first on a tunnel — the server name
// it asks for (SNI) and the protocols it offers (ALPN) — read off the bytes
// without terminating TLS, so an opaque tunnel can be held to the name the
// guest's CONNECT named (a different SNI is domain fronting). Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"

namespace ws::net {

struct ClientHello {
  bool has_sni = false;
  std::string server_name;        // the SNI host_name, as sent (no control characters)
  std::vector<std::string> alpn;  // offered protocols, in order
  size_t consumed = 0;            // bytes the hello's records took (what follows is not read)
  bool encrypted = false;         // an encrypted_client_hello (or ESNI) extension: SNI is a cover
};

// Most bytes a ClientHello may take: one handshake message of up to 64 KiB
// (real ones are under 2 KiB) in records of up to 16 KiB plus headers.
inline constexpr size_t kMaxClientHelloBytes = 64 * 1024 + 5 * 5;
// Most records one hello may span (real ones take one); more is malformed,
// which bounds what a guest sending a byte at a time makes the host redo.
inline constexpr size_t kMaxHelloRecords = 8;

enum class HelloStatus {
  kComplete,   // *out holds the hello
  kNeedMore,   // a valid beginning: read more (up to kMaxClientHelloBytes)
  kNotTls,     // not a TLS handshake at all (plain HTTP, SSH, ...)
  kMalformed,  // a TLS handshake that breaks the format (or a duplicate extension)
};

// Parses `bytes`, the first bytes of a connection, which may end anywhere.
HelloStatus ParseClientHello(std::string_view bytes, ClientHello* out);

}  // namespace ws::net
