#include "host/store/secret_store.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host/common/atomic_file.h"
#include "host/common/time_format.h"
#include "host/net/http_requests.h"
#include "host/net/policy.h"

namespace ws::store {
namespace {

using nlohmann::json;

const std::vector<SecretPreset> kPresets = {
    {"anthropic", "api.anthropic.com", "x-api-key", "{}", "ANTHROPIC_API_KEY"},
    {"anthropic-oauth", "api.anthropic.com", "Authorization", "Bearer {}",
     "CLAUDE_CODE_OAUTH_TOKEN"},
    {"openai", "api.openai.com", "Authorization", "Bearer {}", "OPENAI_API_KEY"},
    {"github", "api.github.com", "Authorization", "Bearer {}", "GH_TOKEN"},
};

Status Invalid(const std::string& what) { return Status(Code::kInvalidArgument, what); }

}  // namespace

Secret Redacted(Secret s) {
  s.value.clear();
  return s;
}

const std::vector<SecretPreset>& Presets() { return kPresets; }

const SecretPreset* FindPreset(std::string_view name) {
  for (const auto& p : kPresets) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

Status ValidateSecret(Secret* s) {
  if (s->name.empty() || s->name.size() > 40 ||
      !std::isalnum(static_cast<unsigned char>(s->name[0]))) {
    return Invalid(
        "a secret's name is 1-40 of a-z, 0-9, '-' and '_', starting with a letter or digit");
  }
  for (char c : s->name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return Invalid("a secret's name is 1-40 of a-z, 0-9, '-' and '_' ('" + s->name.substr(0, 40) +
                     "' is not)");
    }
  }
  auto host = net::NormalizeHostName(s->host);
  if (!host || s->host.find('*') != std::string::npos) {
    return Invalid("--host: '" + s->host.substr(0, 255) + "' is not a host name");
  }
  s->host = *host;
  if (s->header.empty() || s->header.size() > 64) return Invalid("--header: give a header name");
  for (char c : s->header) {
    if (!net::IsHttpTokenChar(c))
      return Invalid("--header: '" + s->header.substr(0, 64) + "' is not a header name");
  }
  const size_t at = s->format.find("{}");
  if (at == std::string::npos || s->format.find("{}", at + 2) != std::string::npos ||
      s->format.size() > 256) {
    return Invalid(
        "--format: give the header's value with {} once where the secret goes, e.g. 'Bearer {}'");
  }
  for (char c : s->format) {
    if (c < 0x20 || c > 0x7e) return Invalid("--format: printable ASCII only");
  }
  if (!s->env.empty()) {
    bool ok = s->env.size() <= 64 && !std::isdigit(static_cast<unsigned char>(s->env[0]));
    for (char c : s->env) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok) return Invalid("--env: '" + s->env.substr(0, 64) + "' is not a variable name");
  }
  if (s->value.empty()) return Invalid("the secret is empty");
  if (s->value.size() > kMaxSecretValue) {
    return Invalid("the secret is over " + std::to_string(kMaxSecretValue / 1024) + " KiB");
  }
  for (char c : s->value) {
    if (c < 0x21 || c > 0x7e) {
      return Invalid(
          "the secret holds a space, a line break or a byte outside printable ASCII "
          "(a trailing newline from a file or command is removed; others are refused)");
    }
  }
  return Status::Ok();
}

Result<std::vector<Secret>> SecretStore::LoadLocked(uid_t owner) {
  std::vector<Secret> all;
  const std::string path = dir_ + "/" + std::to_string(owner) + ".json";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return all;
    return ErrnoStatus("reading " + path, errno);
  }
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(fd);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("secrets") || !j["secrets"].is_array()) {
    return Status(Code::kInternal,
                  path + " is not a secrets file; move it away and add them again");
  }
  for (const auto& e : j["secrets"]) {
    if (!e.is_object()) continue;
    for (const char* k : {"name", "host", "header", "format", "env", "value", "added"}) {
      if (e.contains(k) && !e[k].is_string()) {
        return Status(Code::kInternal,
                      path + " is not a secrets file; move it away and add them again");
      }
    }
    Secret s;
    s.name = e.value("name", "");
    s.host = e.value("host", "");
    s.header = e.value("header", "");
    s.format = e.value("format", "");
    s.env = e.value("env", "");
    s.value = e.value("value", "");
    s.added = e.value("added", "");
    all.push_back(std::move(s));
  }
  return all;
}

Status SecretStore::SaveLocked(uid_t owner, const std::vector<Secret>& all) {
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return ErrnoStatus("creating " + dir_, errno);
  chmod(dir_.c_str(), 0700);
  json list = json::array();
  for (const auto& s : all) {
    list.push_back({{"name", s.name},
                    {"host", s.host},
                    {"header", s.header},
                    {"format", s.format},
                    {"env", s.env},
                    {"value", s.value},
                    {"added", s.added}});
  }
  const std::string text = json{{"version", 1}, {"secrets", list}}.dump(2) + "\n";
  return WriteFileAtomically(dir_ + "/" + std::to_string(owner) + ".json", text, 0600);
}

Status SecretStore::Put(uid_t owner, Secret s) {
  if (Status v = ValidateSecret(&s); !v.ok()) return v;
  if (s.added.empty()) s.added = NowRfc3339();
  MutexLock lock(mu_);
  auto all = LoadLocked(owner);
  if (!all.ok()) return all.status();
  bool replaced = false;
  for (auto& e : all.value()) {
    if (e.name == s.name) {
      e = s;
      replaced = true;
    }
  }
  if (!replaced) {
    if (all.value().size() >= kMaxSecretsPerUser) {
      return Status(Code::kResourceExhausted,
                    "you have " + std::to_string(kMaxSecretsPerUser) +
                        " secrets already; remove one with `workspace secret rm NAME`");
    }
    all.value().push_back(std::move(s));
  }
  return SaveLocked(owner, all.value());
}

Result<std::vector<Secret>> SecretStore::List(uid_t owner) {
  MutexLock lock(mu_);
  return LoadLocked(owner);
}

Result<Secret> SecretStore::Get(uid_t owner, const std::string& name) {
  MutexLock lock(mu_);
  auto all = LoadLocked(owner);
  if (!all.ok()) return all.status();
  for (auto& s : all.value()) {
    if (s.name == name) return s;
  }
  return Status(Code::kNotFound, "no secret called '" + name.substr(0, 40) +
                                     "'; add it with `workspace secret add " + name.substr(0, 40) +
                                     " ...` (`workspace secret list` shows yours)");
}

Status SecretStore::Remove(uid_t owner, const std::string& name) {
  MutexLock lock(mu_);
  auto all = LoadLocked(owner);
  if (!all.ok()) return all.status();
  const size_t before = all.value().size();
  std::erase_if(all.value(), [&](const Secret& s) { return s.name == name; });
  if (all.value().size() == before) {
    return Status(Code::kNotFound, "no secret called '" + name.substr(0, 40) + "'");
  }
  return SaveLocked(owner, all.value());
}

std::string NewPlaceholder() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) std::abort();  // no randomness: nothing safe to do
  static const char digits[] = "0123456789abcdef";
  std::string s = "wsph_";
  for (unsigned char c : raw) s += {digits[c >> 4], digits[c & 15]};
  return s;
}

}  // namespace ws::store
