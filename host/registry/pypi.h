// The PyPI endpoint's pure parts: project names (PEP 503), the simple
// index (PEP 691 JSON from the upstream) rewritten so every file is fetched
// through the endpoint, and served to pip as JSON or as PEP 503 HTML.
#pragma once

#include <string>
#include <string_view>

#include "host/common/status.h"

namespace ws::registry {

// "Foo.Bar_baz" -> "foo-bar-baz"; kInvalidArgument for anything that is not
// a project name.
Result<std::string> NormalizePypiName(std::string_view name);

// A rewritten project index: JSON for pip to read, and one
// "LOCAL_PATH SHA256 UPSTREAM_URL" line per file with a sha256.
struct PypiIndex {
  std::string json;
  std::string files;
};

// `index_url` is the project's upstream URL (relative file URLs resolve
// against it); files are offered at `local_base` + PROJECT + "/" + the file
// URL's path. Files without a sha256 are left out (they could not be
// checked). kInvalidArgument when `text` is not a PEP 691 project page.
Result<PypiIndex> RewritePypiIndex(std::string_view text, const std::string& project,
                                   const std::string& index_url, const std::string& local_base);

// The same page as PEP 503 HTML, for a pip that does not ask for JSON.
std::string PypiHtml(std::string_view rewritten_json, const std::string& project);

struct PypiFile {
  std::string sha256;  // hex
  std::string upstream;
};
// The file `local_path` (under the project) in an index's `files`; empty when absent.
PypiFile PypiFileFor(const std::string& files, const std::string& local_path);

// A URL path of plain segments: no dot segments, no characters beyond
// [A-Za-z0-9-_.+~%!] in a segment, at most 1024 bytes.
bool SafeUrlPath(const std::string& p);

// Resolves a URL found in a page at `base` (absolute, /rooted or relative).
std::string ResolveUrl(const std::string& base, const std::string& ref);

}  // namespace ws::registry
