#include "host/registry/apt_sources.h"

#include <dirent.h>

#include <fstream>
#include <sstream>

namespace ws::registry {
namespace {

void AddHost(const std::string& uri, std::set<std::string>* out) {
  size_t start = uri.rfind("https://", 0) == 0 ? 8 : uri.rfind("http://", 0) == 0 ? 7 : 0;
  if (start == 0) return;
  std::string host = uri.substr(start, uri.find('/', start) - start);
  if (host.empty() || host.find('@') != std::string::npos) return;
  for (auto& c : host) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  out->insert(host);
}

}  // namespace

std::set<std::string> AptSourceHosts(const std::vector<std::string>& files) {
  std::set<std::string> out;
  for (const auto& file : files) {
    std::ifstream f(file);
    for (std::string line; std::getline(f, line);) {
      line = line.substr(0, line.find('#'));
      std::istringstream in(line);
      std::string word;
      if (!(in >> word)) continue;
      if (word == "deb" || word == "deb-src") {
        // deb [opts] URI suite...: the options may hold spaces inside [ ].
        std::string uri;
        in >> uri;
        if (!uri.empty() && uri[0] == '[') {
          while (!uri.empty() && uri.back() != ']' && in >> uri) {
          }
          in >> uri;
        }
        AddHost(uri, &out);
      } else if (word == "URIs:") {
        for (std::string uri; in >> uri;) AddHost(uri, &out);
      }
    }
  }
  return out;
}

std::vector<std::string> AptSourceFiles(const std::string& root) {
  std::vector<std::string> files = {root + "/etc/apt/sources.list"};
  const std::string dir = root + "/etc/apt/sources.list.d";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      auto ends = [&](const std::string& s) {
        return n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
      };
      if (ends(".list") || ends(".sources")) files.push_back(dir + "/" + n);
    }
    closedir(d);
  }
  return files;
}

}  // namespace ws::registry
