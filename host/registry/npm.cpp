#include "host/registry/npm.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "host/common/ascii.h"
#include "host/common/base64.h"

namespace ws::registry {
namespace {

using nlohmann::json;

// What npm allows in a name part (validate-npm-package-name: URL-safe).
bool NamePart(std::string_view s) {
  if (s.empty() || s.size() > 214 || s[0] == '.' || s[0] == '_') return false;
  for (unsigned char c : s) {
    if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')) return false;
  }
  return true;
}

std::string DecodeHex(const std::string& hex) {
  std::string out;
  if (hex.size() % 2) return "";
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (char c : hex.substr(i, 2)) {
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return "";
    }
    out += static_cast<char>(v);
  }
  return out;
}

}  // namespace

Result<NpmPath> ParseNpmPath(std::string_view rest) {
  std::string s(rest);
  // A scoped name is sent as @scope%2fname too.
  for (const char* enc : {"%2f", "%2F"}) {
    for (size_t at; (at = s.find(enc)) != std::string::npos;) s.replace(at, 3, "/");
  }
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string p; std::getline(in, p, '/');) parts.push_back(p);
  if (!s.empty() && s.back() == '/') parts.push_back("");
  NpmPath out;
  size_t i = 0;
  if (!parts.empty() && !parts[0].empty() && parts[0][0] == '@') {
    if (parts.size() < 2 || !NamePart(parts[0].substr(1)) || !NamePart(parts[1])) {
      return Status(Code::kInvalidArgument, "not a package name");
    }
    out.name = parts[0] + "/" + parts[1];
    i = 2;
  } else {
    if (parts.empty() || !NamePart(parts[0]))
      return Status(Code::kInvalidArgument, "not a package name");
    out.name = parts[0];
    i = 1;
  }
  if (i == parts.size()) return out;
  if (parts.size() != i + 2 || parts[i] != "-" || !NamePart(parts[i + 1]) ||
      parts[i + 1].size() < 5 || parts[i + 1].substr(parts[i + 1].size() - 4) != ".tgz") {
    return Status(Code::kInvalidArgument, "not a packument or a tarball path");
  }
  out.file = parts[i + 1];
  return out;
}

std::string NpmUpstreamUrl(const std::string& upstream, const NpmPath& p) {
  if (!p.file.empty()) return upstream + p.name + "/-/" + p.file;
  std::string name = p.name;
  if (auto slash = name.find('/'); slash != std::string::npos) name.replace(slash, 1, "%2f");
  return upstream + name;
}

Result<std::string> RewritePackument(std::string_view text, const std::string& upstream,
                                     const std::string& local, std::string* index) {
  if (JsonTooDeep(text, 64))
    return Status(Code::kInvalidArgument, "the packument nests deeper than 64 levels");
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Status(Code::kInvalidArgument, "the packument is not a JSON object");
  index->clear();
  auto versions = j.find("versions");
  if (versions != j.end() && versions->is_object()) {
    for (auto& [v, meta] : versions->items()) {
      if (!meta.is_object()) continue;
      auto dist = meta.find("dist");
      if (dist == meta.end() || !dist->is_object()) continue;
      auto tarball = dist->find("tarball");
      if (tarball == dist->end() || !tarball->is_string()) continue;
      const std::string url = tarball->get<std::string>();
      // npm writes http:// URLs into some old packuments; the path is what counts.
      std::string rest;
      if (url.rfind(upstream, 0) == 0) {
        rest = url.substr(upstream.size());
      } else if (AsciiLower(upstream).rfind("https://", 0) == 0 &&
                 url.rfind("http://" + upstream.substr(8), 0) == 0) {
        rest = url.substr(upstream.size() - 1);
      } else {
        continue;  // hosted elsewhere: fetched through the proxy, if allowed
      }
      auto p = ParseNpmPath(rest);
      if (!p.ok() || p->file.empty()) continue;
      std::string integrity;
      if (auto it = dist->find("integrity"); it != dist->end() && it->is_string())
        integrity = it->get<std::string>();
      if (integrity.empty()) {
        if (auto it = dist->find("shasum"); it != dist->end() && it->is_string()) {
          integrity = "sha1hex-" + it->get<std::string>();
        }
      }
      if (integrity.empty() || integrity.size() > 1024 ||
          std::any_of(integrity.begin(), integrity.end(),
                      [](unsigned char c) { return c < 0x20 || c > 0x7e; })) {
        continue;
      }
      *tarball = local + p->name + "/-/" + p->file;
      *index += p->name + "/-/" + p->file + " " + integrity + "\n";
    }
  }
  try {
    return j.dump();
  } catch (const json::exception&) {
    return Status(Code::kInvalidArgument, "the packument holds text that is not UTF-8");
  }
}

std::string IntegrityFor(const std::string& index, const NpmPath& p) {
  const std::string want = p.name + "/-/" + p.file + " ";
  for (size_t at = 0; at < index.size();) {
    size_t nl = index.find('\n', at);
    if (nl == std::string::npos) nl = index.size();
    if (index.compare(at, want.size(), want) == 0)
      return index.substr(at + want.size(), nl - at - want.size());
    at = nl + 1;
  }
  return "";
}

IntegrityCheck::IntegrityCheck(const std::string& integrity) {
  // The strongest of the whitespace-separated "ALGO-BASE64[?opts]" entries.
  static const std::pair<const char*, const EVP_MD* (*)()> kAlgos[] = {{"sha512-", EVP_sha512},
                                                                       {"sha384-", EVP_sha384},
                                                                       {"sha256-", EVP_sha256},
                                                                       {"sha1-", EVP_sha1}};
  std::vector<std::string> entries;
  std::stringstream in(integrity);
  for (std::string e; in >> e;) entries.push_back(e);
  const EVP_MD* md = nullptr;
  // "sha1hex-HEX" (npm's shasum), "sha256hex-HEX" (PyPI's sha256).
  struct HexForm {
    const char* prefix;
    const EVP_MD* (*algo)();
  };
  for (const HexForm& h : {HexForm{"sha1hex-", EVP_sha1}, HexForm{"sha256hex-", EVP_sha256}}) {
    const char* prefix = h.prefix;
    auto algo = h.algo;
    if (integrity.rfind(prefix, 0) != 0) continue;
    want_ = DecodeHex(integrity.substr(strlen(prefix)));
    if (want_.size() == static_cast<size_t>(EVP_MD_get_size(algo())))
      md = algo();
    else
      want_ = "malformed";
  }
  for (const auto& [prefix, algo] : kAlgos) {
    if (md || !want_.empty()) break;
    for (const auto& e : entries) {
      if (e.rfind(prefix, 0) != 0) continue;
      // The strongest algorithm named decides: a malformed digest of it is
      // not excused by a weaker one.
      std::string b64 = e.substr(strlen(prefix));
      want_ = DecodeBase64(b64.substr(0, b64.find('?')));
      if (want_.size() == static_cast<size_t>(EVP_MD_get_size(algo())))
        md = algo();
      else
        want_ = "malformed";
      break;
    }
  }
  if (!md) return;
  ctx_ = EVP_MD_CTX_new();
  if (ctx_ && EVP_DigestInit_ex(ctx_, md, nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = nullptr;
  }
}

IntegrityCheck::~IntegrityCheck() {
  if (ctx_) EVP_MD_CTX_free(ctx_);
}

void IntegrityCheck::Update(std::string_view data) {
  if (ctx_) EVP_DigestUpdate(ctx_, data.data(), data.size());
}

bool IntegrityCheck::Matches() {
  if (!ctx_) return false;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &n) != 1) return false;
  return want_ == std::string(reinterpret_cast<char*>(md), n);
}

}  // namespace ws::registry
