#include "host/registry/pypi.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "host/registry/npm.h"

namespace ws::registry {
namespace {

using nlohmann::json;

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool Hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The path of a URL (from its first '/' after the authority), without query or fragment.
std::string PathOf(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return "/";
  std::string p = url.substr(slash);
  return p.substr(0, p.find_first_of("?#"));
}

}  // namespace

// A path whose segments are all plain names: no dot segments, nothing a
// guest could turn into another file.
bool SafeUrlPath(const std::string& p) {
  if (p.empty() || p[0] != '/' || p.size() > 1024) return false;
  size_t start = 1;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string seg = p.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (unsigned char c : seg) {
      if (!(isalnum(c) || c == '-' || c == '_' || c == '.' || c == '+' || c == '~' || c == '%' ||
            c == '!'))
        return false;
    }
    start = end + 1;
  }
  return true;
}

Result<std::string> NormalizePypiName(std::string_view name) {
  if (name.empty() || name.size() > 200)
    return Status(Code::kInvalidArgument, "not a project name");
  std::string out;
  bool sep = false;
  for (unsigned char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      sep = true;
      continue;
    }
    if (!isalnum(c)) return Status(Code::kInvalidArgument, "not a project name");
    if (sep && !out.empty()) out += '-';
    sep = false;
    out += static_cast<char>(tolower(c));
  }
  if (out.empty() || !isalnum(static_cast<unsigned char>(name.front())) ||
      !isalnum(static_cast<unsigned char>(name.back()))) {
    return Status(Code::kInvalidArgument, "not a project name");
  }
  return out;
}

std::string ResolveUrl(const std::string& base, const std::string& ref) {
  if (ref.rfind("https://", 0) == 0 || ref.rfind("http://", 0) == 0) return ref;
  auto scheme = base.find("://");
  auto slash = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const std::string origin = slash == std::string::npos ? base : base.substr(0, slash);
  if (!ref.empty() && ref[0] == '/') return origin + ref;
  std::string dir = slash == std::string::npos ? "/" : base.substr(slash);
  dir = dir.substr(0, dir.find_first_of("?#"));
  dir = dir.substr(0, dir.rfind('/') + 1);
  std::vector<std::string> segs;
  for (size_t i = 1; i < dir.size();) {
    size_t e = dir.find('/', i);
    segs.push_back(dir.substr(i, e - i));
    i = e + 1;
  }
  std::string rest = ref;
  for (;;) {
    if (rest.rfind("../", 0) == 0) {
      if (!segs.empty()) segs.pop_back();
      rest = rest.substr(3);
    } else if (rest.rfind("./", 0) == 0) {
      rest = rest.substr(2);
    } else {
      break;
    }
  }
  std::string out = origin + "/";
  for (const auto& s : segs) out += s + "/";
  return out + rest;
}

Result<PypiIndex> RewritePypiIndex(std::string_view text, const std::string& project,
                                   const std::string& index_url, const std::string& local_base) {
  if (JsonTooDeep(text, 64))
    return Status(Code::kInvalidArgument, "the project page nests deeper than 64 levels");
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) {
    return Status(Code::kInvalidArgument, "not a PEP 691 project page");
  }
  PypiIndex out;
  json files = json::array();
  for (auto& f : j["files"]) {
    if (!f.is_object() || !f.contains("url") || !f["url"].is_string() || !f.contains("filename") ||
        !f["filename"].is_string()) {
      continue;
    }
    std::string sha;
    if (f.contains("hashes") && f["hashes"].is_object() && f["hashes"].contains("sha256") &&
        f["hashes"]["sha256"].is_string()) {
      sha = f["hashes"]["sha256"].get<std::string>();
    }
    std::string upstream = ResolveUrl(index_url, f["url"].get<std::string>());
    upstream = upstream.substr(0, upstream.find('#'));  // a fragment is never sent
    const std::string path = PathOf(upstream);
    if (!Hex64(sha) || !SafeUrlPath(path) || upstream.find_first_of(" \n\r") != std::string::npos)
      continue;
    for (auto& c : sha) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    const std::string local = project + path;
    // Metadata files (PEP 658) are not offered: pip reads the wheel itself.
    f.erase("dist-info-metadata");
    f.erase("core-metadata");
    f["url"] = local_base + local;
    f["hashes"] = {{"sha256", sha}};
    files.push_back(f);
    out.files += local + " " + sha + " " + upstream + "\n";
  }
  j["files"] = files;
  try {
    out.json = j.dump();
  } catch (const json::exception&) {
    return Status(Code::kInvalidArgument, "the project page holds text that is not UTF-8");
  }
  return out;
}

std::string PypiHtml(std::string_view rewritten_json, const std::string& project) {
  json j = json::parse(rewritten_json, nullptr, false);
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\">"
      "<title>Links for " +
      HtmlEscape(project) + "</title></head><body><h1>Links for " + HtmlEscape(project) + "</h1>\n";
  if (j.is_object() && j.contains("files") && j["files"].is_array()) {
    for (const auto& f : j["files"]) {
      if (!f.is_object() || !f.contains("url") || !f["url"].is_string() ||
          !f.contains("filename") || !f["filename"].is_string() || !f.contains("hashes") ||
          !f["hashes"].is_object() || !f["hashes"].contains("sha256") ||
          !f["hashes"]["sha256"].is_string()) {
        continue;
      }
      html += "<a href=\"" + HtmlEscape(f["url"].get<std::string>()) +
              "#sha256=" + HtmlEscape(f["hashes"]["sha256"].get<std::string>()) + "\"";
      if (f.contains("requires-python") && f["requires-python"].is_string()) {
        html +=
            " data-requires-python=\"" + HtmlEscape(f["requires-python"].get<std::string>()) + "\"";
      }
      if (f.contains("yanked") &&
          (f["yanked"].is_string() || (f["yanked"].is_boolean() && f["yanked"].get<bool>()))) {
        html += " data-yanked=\"" +
                HtmlEscape(f["yanked"].is_string() ? f["yanked"].get<std::string>() : "") + "\"";
      }
      html += ">" + HtmlEscape(f["filename"].get<std::string>()) + "</a><br/>\n";
    }
  }
  return html + "</body></html>\n";
}

PypiFile PypiFileFor(const std::string& files, const std::string& local_path) {
  const std::string want = local_path + " ";
  for (size_t at = 0; at < files.size();) {
    size_t nl = files.find('\n', at);
    if (nl == std::string::npos) nl = files.size();
    if (files.compare(at, want.size(), want) == 0) {
      std::string rest = files.substr(at + want.size(), nl - at - want.size());
      auto sp = rest.find(' ');
      if (sp == std::string::npos) return {};
      return {rest.substr(0, sp), rest.substr(sp + 1)};
    }
    at = nl + 1;
  }
  return {};
}

}  // namespace ws::registry
