// The command list of a git push over smart HTTP (the body of POST
// .../git-receive-pack), read from its pkt-lines before any of it goes on:
//   [shallow OID]...  OLD NEW REF\0CAPABILITIES  [OLD NEW REF]...  0000  PACK...
// (gitprotocol-pack, "Reference Update Request"). Each update can then be
// checked against the push rules (push_rules.h); only when every one passes
// is the request let through, so a refused push changes no ref. Strict: a
// malformed list, a push certificate (its own framing), an object id that
// is neither SHA-1 nor SHA-256 hex, or more than the bounds below is
// refused. Pure: bytes in, a verdict out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ws::github {

struct RefUpdate {
  std::string old_oid, new_oid;  // hex; all zeros: the ref is created / deleted
  std::string ref;               // "refs/heads/agent/fix"
  bool creates() const;
  bool deletes() const;
};

// Bounds on what a command list may hold.
inline constexpr size_t kMaxRefUpdates = 256;
inline constexpr size_t kMaxCommandBytes = 256 * 1024;  // up to and with the flush-pkt

enum class ParseState { kNeedMore, kComplete, kMalformed };

struct PushCommands {
  std::vector<RefUpdate> updates;
  std::vector<std::string> capabilities;  // from the first command
  size_t length = 0;                      // bytes up to and with the flush-pkt
  std::string error;                      // kMalformed: why
};

// Reads the command list at the start of `body` (as much as has arrived).
ParseState ParsePushCommands(std::string_view body, PushCommands* out);

// A pkt-line carrying `text` (its length prefix added).
std::string PktLine(std::string_view text);

}  // namespace ws::github
