#include "host/tripwire/decoys.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "host/common/base64.h"

namespace ws::tripwire {
namespace {

// `n` characters drawn from `alphabet`, uniformly (rejection sampling).
Result<std::string> RandomText(size_t n, std::string_view alphabet) {
  std::string out;
  const unsigned limit = 256 - 256 % alphabet.size();
  while (out.size() < n) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof buf) != 1) {
      return Status(Code::kInternal, "no randomness for decoy credentials (OpenSSL RAND_bytes)");
    }
    for (unsigned char b : buf) {
      if (b < limit && out.size() < n) out += alphabet[b % alphabet.size()];
    }
  }
  return out;
}

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kUpper32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The base64 of `value` that does not depend on what surrounds it, for each
// of the three offsets it may have in the encoded input.
std::vector<std::string> Base64Middles(std::string_view value) {
  std::vector<std::string> out;
  for (size_t skip = 0; skip < 3 && skip < value.size(); ++skip) {
    const size_t n = (value.size() - skip) / 3 * 3;
    if (n >= 9) out.push_back(EncodeBase64(value.substr(skip, n)));
  }
  return out;
}

std::string Hex(std::string_view s, const char* digits) {
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// `s` as a URL or a form would carry it: every byte but A-Z a-z 0-9 - . _ ~
// as %XX (`digits` picks the case).
std::string PercentEncoded(std::string_view s, const char* digits) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> EncodedForms(std::string_view value) {
  std::vector<std::string> forms = {
      std::string(value), Hex(value, "0123456789abcdef"), Hex(value, "0123456789ABCDEF"),
      PercentEncoded(value, "0123456789ABCDEF"), PercentEncoded(value, "0123456789abcdef")};
  for (const auto& once : Base64Middles(value)) {
    forms.push_back(once);
    for (const auto& twice : Base64Middles(once)) forms.push_back(twice);
  }
  forms.erase(std::remove_if(forms.begin(), forms.end(),
                             [](const std::string& f) { return f.size() < 12; }),
              forms.end());
  std::sort(forms.begin(), forms.end());
  forms.erase(std::unique(forms.begin(), forms.end()), forms.end());
  return forms;
}

Result<std::vector<Decoy>> MakeDecoys() {
  struct Spec {
    const char* kind;
    const char* where;
    const char* prefix;
    size_t length;
    std::string_view alphabet;
  };
  const Spec specs[] = {
      {"npm-token", "~/.npmrc", "npm_", 36, kBase62},
      {"github-token", "~/.config/gh/hosts.yml", "gho_", 36, kBase62},
      {"github-token", "~/.git-credentials", "ghp_", 36, kBase62},
      {"aws-access-key-id", "~/.aws/credentials", "AKIA", 16, kUpper32},
      {"aws-secret-access-key", "~/.aws/credentials", "", 40, kBase64},
      {"ssh-private-key", "~/.ssh/id_ed25519", "", 64, kBase64},
      {"npm-token", "NPM_TOKEN", "npm_", 36, kBase62},
      {"github-token", "GITHUB_TOKEN", "ghp_", 36, kBase62},
  };
  std::vector<Decoy> out;
  for (const auto& s : specs) {
    auto text = RandomText(s.length, s.alphabet);
    if (!text.ok()) return text.status();
    out.push_back({s.kind, s.where, s.prefix + text.value()});
  }
  return out;
}

std::vector<DecoyFile> DecoyFiles(const std::vector<Decoy>& decoys) {
  auto value = [&](const char* where, const char* kind) -> std::string {
    for (const auto& d : decoys) {
      if (d.where == where && d.kind == kind) return d.value;
    }
    return "";
  };
  std::vector<DecoyFile> files;
  if (auto npm = value("~/.npmrc", "npm-token"); !npm.empty()) {
    files.push_back({".npmrc", "//registry.npmjs.org/:_authToken=" + npm + "\n", 0600});
  }
  if (auto gh = value("~/.config/gh/hosts.yml", "github-token"); !gh.empty()) {
    files.push_back(
        {".config/gh/hosts.yml",
         "github.com:\n    user: dev\n    oauth_token: " + gh + "\n    git_protocol: https\n",
         0600});
  }
  if (auto pat = value("~/.git-credentials", "github-token"); !pat.empty()) {
    files.push_back({".git-credentials", "https://dev:" + pat + "@github.com\n", 0600});
  }
  const auto id = value("~/.aws/credentials", "aws-access-key-id");
  const auto secret = value("~/.aws/credentials", "aws-secret-access-key");
  if (!id.empty() && !secret.empty()) {
    files.push_back(
        {".aws/credentials",
         "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n",
         0600});
  }
  if (auto key = value("~/.ssh/id_ed25519", "ssh-private-key"); !key.empty()) {
    files.push_back(
        {".ssh/id_ed25519",
         "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
         "AAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ\n" +
             key + "\n-----END OPENSSH PRIVATE KEY-----\n",
         0600});
  }
  return files;
}

std::vector<std::string> DecoyEnv(const std::vector<Decoy>& decoys) {
  std::vector<std::string> env;
  for (const auto& d : decoys) {
    if (!d.where.empty() && d.where[0] != '~') env.push_back(d.where + "=" + d.value);
  }
  return env;
}

uint64_t DecoyIndex::Key(const char* p) {
  uint64_t k;
  std::memcpy(&k, p, sizeof k);
  return k;
}

DecoyIndex::DecoyIndex(std::vector<Decoy> decoys) : decoys_(std::move(decoys)) {
  for (size_t i = 0; i < decoys_.size(); ++i) {
    for (auto& form : EncodedForms(decoys_[i].value)) {  // each at least 12 bytes
      longest_ = std::max(longest_, form.size());
      const size_t bit = Bit(Key(form.data()));
      bloom_[bit >> 6] |= uint64_t{1} << (bit & 63);
      needles_.push_back({std::move(form), i});
    }
  }
}

std::string DecoyIndex::Redact(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> spans;  // [from, to)
  Scan(text, [&](size_t, size_t at, size_t n) { spans.push_back({at, at + n}); });
  if (spans.empty()) return std::string(text);
  std::sort(spans.begin(), spans.end());
  std::string out;
  size_t done = 0;
  for (const auto& [from, to] : spans) {
    if (to <= done) continue;
    if (from > done) out.append(text.substr(done, from - done));
    if (from >= done) out += "[decoy]";
    done = std::max(done, to);
  }
  out.append(text.substr(done));
  return out;
}

DecoyWatch::DecoyWatch(std::vector<Decoy> decoys)
    : index_(std::make_shared<DecoyIndex>(std::move(decoys))) {}
DecoyWatch::DecoyWatch(std::shared_ptr<const DecoyIndex> index) : index_(std::move(index)) {}

std::vector<const Decoy*> DecoyWatch::Feed(std::string_view bytes) {
  std::vector<const Decoy*> found;
  const size_t longest = index_->longest();
  if (longest == 0) return found;
  // Only the tail and the start of `bytes` need joining; the rest is
  // scanned where it lies.
  auto take = [&](size_t i) {
    const Decoy* d = &index_->decoys()[i];
    if (std::find(found.begin(), found.end(), d) == found.end()) found.push_back(d);
    if (std::find(seen_.begin(), seen_.end(), d) == seen_.end()) seen_.push_back(d);
  };
  if (!tail_.empty()) {  // those that straddle: begin in the tail, end in `bytes`
    std::string joint = tail_;
    joint.append(bytes.substr(0, longest - 1));
    index_->Scan(joint, [&](size_t i, size_t at, size_t n) {
      if (at < tail_.size() && at + n > tail_.size()) take(i);
    });
  }
  index_->Scan(bytes, [&](size_t i, size_t, size_t) { take(i); });
  if (bytes.size() >= longest - 1) {
    tail_.assign(bytes.substr(bytes.size() - (longest - 1)));
  } else {
    tail_.append(bytes);
    if (tail_.size() > longest - 1) tail_.erase(0, tail_.size() - (longest - 1));
  }
  return found;
}

std::string DecoysToJson(const std::vector<Decoy>& decoys) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : decoys) {
    out.push_back({{"kind", d.kind}, {"where", d.where}, {"value", d.value}});
  }
  return out.dump(2) + "\n";
}

Result<std::vector<Decoy>> DecoysFromJson(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) {
    return Status(Code::kInternal, "the workspace's decoys file is not a JSON array");
  }
  std::vector<Decoy> out;
  for (const auto& e : doc) {
    if (!e.is_object() || !e.value("kind", nlohmann::json()).is_string() ||
        !e.value("where", nlohmann::json()).is_string() ||
        !e.value("value", nlohmann::json()).is_string()) {
      return Status(Code::kInternal, "a decoy in the workspace's decoys file is malformed");
    }
    Decoy d{e["kind"].get<std::string>(), e["where"].get<std::string>(),
            e["value"].get<std::string>()};
    if (d.value.size() < 12) return Status(Code::kInternal, "a decoy value shorter than 12");
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace ws::tripwire
