// Decoy credentials (issue #23): believable fake secrets put where worms
// look in a workspace (~/.npmrc, ~/.aws/credentials, gh's hosts.yml,
// ~/.git-credentials, an SSH key, NPM_TOKEN-style variables), each value
// random per workspace and known only to the host, and a watch that finds
// them in bytes the host sees leaving (plain, hex, base64 at any alignment
// and base64 of base64, as the Shai-Hulud waves encoded what they stole).
// A decoy seen anywhere is a tripwire: something read it and sent it. Pure
// but for the randomness.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"

namespace ws::tripwire {

struct Decoy {
  std::string kind;   // "npm-token", "github-token", "aws-access-key-id", ...
  std::string where;  // where the guest holds it: "~/.npmrc", "NPM_TOKEN", ...
  std::string value;  // what a worm would send
};

// A fresh set, from OpenSSL's randomness: each value at least 20
// characters, the prefixes real tokens have (npm_, ghp_, AKIA...).
Result<std::vector<Decoy>> MakeDecoys();

// The files the guest user's home gets: a path relative to the home, the
// content, the mode.
struct DecoyFile {
  std::string path;
  std::string content;
  int mode = 0600;
};
std::vector<DecoyFile> DecoyFiles(const std::vector<Decoy>& decoys);
// The variables login shells get ("NPM_TOKEN=npm_..."), from the decoys
// whose `where` is a variable name.
std::vector<std::string> DecoyEnv(const std::vector<Decoy>& decoys);

// Every form of a set of decoys, indexed by their first 8 bytes so a scan
// costs a load and a bit test per byte. Immutable: shared by the watches.
class DecoyIndex {
 public:
  explicit DecoyIndex(std::vector<Decoy> decoys);
  const std::vector<Decoy>& decoys() const { return decoys_; }
  size_t longest() const { return longest_; }
  // `text` with every decoy form in it replaced by "[decoy]": what is
  // written to logs and alerts never holds a value.
  std::string Redact(std::string_view text) const;
  // Calls found(decoy index, offset, length) for each needle in `text`.
  template <typename F>
  void Scan(std::string_view text, F&& found) const;

 private:
  struct Needle {
    std::string text;
    size_t decoy;
  };
  static uint64_t Key(const char* p);
  static size_t Bit(uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) >> 48; }
  std::vector<Decoy> decoys_;
  std::vector<Needle> needles_;                                // sorted by Key
  std::vector<uint64_t> bloom_ = std::vector<uint64_t>(1024);  // 65,536 bits
  size_t longest_ = 0;
};

// Finds decoys in a byte stream as it passes, whatever the pieces.
class DecoyWatch {
 public:
  explicit DecoyWatch(std::vector<Decoy> decoys);
  explicit DecoyWatch(std::shared_ptr<const DecoyIndex> index);
  // The decoys that ended in `bytes` (each once), whether or not seen before.
  std::vector<const Decoy*> Feed(std::string_view bytes);
  // Every decoy seen so far, each once.
  const std::vector<const Decoy*>& seen() const { return seen_; }

 private:
  std::shared_ptr<const DecoyIndex> index_;
  std::string tail_;  // the last longest-1 bytes: a needle may straddle pieces
  std::vector<const Decoy*> seen_;
};

// For the workspace's state: the decoys as JSON, and back.
std::string DecoysToJson(const std::vector<Decoy>& decoys);
Result<std::vector<Decoy>> DecoysFromJson(std::string_view json);

// The forms of `value` a worm's encoding leaves in its output: the value,
// its hex and its percent-encoding (both cases), the stable middle of its
// base64 at each of the three alignments, and of the base64 of those. Each
// at least 12 bytes.
std::vector<std::string> EncodedForms(std::string_view value);

template <typename F>
void DecoyIndex::Scan(std::string_view text, F&& found) const {
  if (needles_.empty() || text.size() < 8) return;
  for (size_t i = 0; i + 8 <= text.size(); ++i) {
    const uint64_t key = Key(text.data() + i);
    const size_t bit = Bit(key);
    if (!(bloom_[bit >> 6] >> (bit & 63) & 1)) continue;
    for (const auto& n : needles_) {
      if (Key(n.text.data()) == key && text.size() - i >= n.text.size() &&
          text.compare(i, n.text.size(), n.text) == 0) {
        found(n.decoy, i, n.text.size());
      }
    }
  }
}

}  // namespace ws::tripwire
