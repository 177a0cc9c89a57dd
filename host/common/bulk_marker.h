// The framing of the bulk output port (org.workspace.bulk.0), shared by the
// guest agent and the host. The port is a byte stream that one exec owns at
// a time: the command's stdout *is* the port, so the guest's vCPU copies each
// byte once (into the port) instead of four times through the agent and
// gRPC. The agent frames an exec's bytes with two 32-byte markers:
//
//   magic(8) 'B' pad(7) tag(16)   ...the command's stdout...   magic(8) 'E' pad(7) tag(16)
//
// The tag is 16 random bytes the host chose for the exec (ExecStart.bulk_tag)
// and, short of guest root reading the agent's memory, only the host and the
// agent know it: output that happens to contain a marker's bytes cannot end
// an exec's stream early. Bytes outside a begin/end pair are discarded by
// the host. The magic and padding hold no repeated byte pairs, so a search
// for a marker skips quickly over runs of any one byte (dd if=/dev/zero).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ws::bulk {

inline constexpr char kPortName[] = "org.workspace.bulk.0";
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kMarkerSize = 32;
inline constexpr std::string_view kMagic{"\x8fWSbulk\x9d", 8};
inline constexpr char kBegin = 'B', kEnd = 'E';
inline constexpr std::string_view kPad{
    "\x7f"
    "mark\x1b\x03",
    7};

// The marker of `kind` (kBegin or kEnd) for `tag` (kTagSize bytes).
inline std::string Marker(char kind, std::string_view tag) {
  std::string m;
  m.reserve(kMarkerSize);
  m.append(kMagic);
  m.push_back(kind);
  m.append(kPad);
  m.append(tag.substr(0, kTagSize));
  m.resize(kMarkerSize, '\0');
  return m;
}

}  // namespace ws::bulk
