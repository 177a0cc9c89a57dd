// Decoy credentials (issue #23): believable fake secrets put where worms
// look in a workspace (~/.npmrc, ~/.aws/credentials, gh's hosts.yml,
// ~/.git-credentials, an SSH key, NPM_TOKEN-style variables), each value
// random per workspace and known only to the host, and a watch that finds
// them in bytes the host sees leaving (plain, hex, base64 at any alignment
// and base64 of base64, as the Shai-Hulud waves encoded what they stole).
// A decoy seen anywhere is a tripwire: something read it and sent it. Pure
// but for the randomness.
#pragma once

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

// Finds decoys in a byte stream as it passes, whatever the pieces.
class DecoyWatch {
 public:
  explicit DecoyWatch(std::vector<Decoy> decoys);
  // The decoys first seen in what has passed, now that `bytes` did.
  std::vector<const Decoy*> Feed(std::string_view bytes);
  // Every decoy seen so far.
  const std::vector<const Decoy*>& seen() const { return seen_; }

 private:
  struct Needle {
    std::string text;
    size_t decoy;
  };
  std::vector<Decoy> decoys_;
  std::vector<Needle> needles_;
  size_t longest_ = 0;
  std::string tail_;  // the last longest_-1 bytes: a needle may straddle pieces
  std::vector<const Decoy*> seen_;
};

// The forms of `value` a worm's encoding leaves in its output: the value,
// its hex and its percent-encoding (both cases), the stable middle of its
// base64 at each of the three alignments, and of the base64 of those. Each
// at least 12 bytes.
std::vector<std::string> EncodedForms(std::string_view value);

}  // namespace ws::tripwire
