#include "host/cli/default_allow.h"

#include <stdio.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/common/subprocess.h"

namespace ws::cli {
namespace {

namespace fs = std::filesystem;

// Runs a host tool from "/", never from the folder create runs in: that
// folder is shared, and npm reads a project's .npmrc from it (the guest's
// `registry=` would become the default allowlist and the host npm's).
std::string Run(const std::string& cmd) {
  FILE* p = popen(("cd / && " + cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

void Add(std::vector<net::AllowEntry>* out, const std::string& spec, const std::string& source) {
  if (spec.empty()) return;
  auto e = net::ParseAllowEntry(spec, source);
  if (!e.ok()) return;
  for (const auto& x : *out) {
    if (x.host == e->host && x.port == e->port) return;
  }
  out->push_back(e.value());
}

}  // namespace

std::string HostOfUrl(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  auto at = rest.rfind('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  return rest;
}

std::vector<std::string> AptSourceHosts(const std::string& text) {
  std::vector<std::string> hosts;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string w;
    words >> w;
    if (w == "deb" || w == "deb-src" || w == "URIs:") {
      while (words >> w) {
        std::string h = HostOfUrl(w);
        if (!h.empty()) hosts.push_back(h);
      }
    }
  }
  return hosts;
}

std::vector<net::AllowEntry> DefaultAllowlist() {
  std::vector<net::AllowEntry> out;
  std::vector<std::string> apt_files = {"/etc/apt/sources.list"};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/etc/apt/sources.list.d", ec)) apt_files.push_back(e.path());
  for (const auto& f : apt_files) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    for (const auto& h : AptSourceHosts(text.str())) Add(&out, h, "apt");
  }
  Add(&out, HostOfUrl(Run("npm config get registry")), "npm");
  for (const char* pip : {"pip3", "pip"}) {
    Add(&out, HostOfUrl(Run(std::string(pip) + " config get global.index-url")), "pip");
  }
  for (const std::string& dir : {ExeDir() + "/../share/workspace", std::string("/usr/share/workspace")}) {
    std::ifstream f(dir + "/ai-api-hosts.txt");
    if (!f) continue;
    std::string line;
    while (std::getline(f, line)) {
      if (!line.empty() && line[0] != '#') Add(&out, line, "ai-apis");
    }
    break;
  }
  return out;
}

}  // namespace ws::cli
