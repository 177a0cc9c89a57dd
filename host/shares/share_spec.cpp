#include "host/shares/share_spec.h"

#include <filesystem>

#include "host/shares/protected_paths.h"

namespace ws::shares {

std::string NormalizeAbsolute(const std::string& path) {
  std::string s = std::filesystem::path(path).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool PathWithin(const std::string& inner, const std::string& outer) {
  if (outer == "/") return true;
  return inner == outer ||
         (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
          inner[outer.size()] == '/');
}

Status CheckGuestPath(const std::string& g) {
  if (g.empty() || g.front() != '/') {
    return {Code::kInvalidArgument, "guest path '" + g + "' must be absolute"};
  }
  if (NormalizeAbsolute(g) != g) {
    return {Code::kInvalidArgument,
            "guest path '" + g + "' is not normalized (try " + NormalizeAbsolute(g) + ")"};
  }
  if (g == "/") return {Code::kInvalidArgument, "a share cannot replace the guest's /"};
  for (const char* sys : {"/proc", "/sys", "/dev"}) {
    if (PathWithin(g, sys))
      return {Code::kInvalidArgument, "a share cannot go under " + std::string(sys)};
  }
  // The path travels on the kernel command line: plain characters only.
  for (char ch : g) {
    bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '/' || ch == '_' || ch == '.' || ch == '-' || ch == '+' || ch == '@';
    if (!plain) {
      return {Code::kInvalidArgument,
              "guest path '" + g + "' may only use letters, digits and / _ . - + @"};
    }
  }
  return Status::Ok();
}

Result<ShareSpec> ParseShareSpec(std::string_view spec_in) {
  std::string spec(spec_in);
  ShareSpec s;
  auto strip_mode = [&](const char* suffix, bool ro) {
    std::string sfx = suffix;
    if (spec.size() > sfx.size() && spec.compare(spec.size() - sfx.size(), sfx.size(), sfx) == 0) {
      s.read_only = ro;
      spec.resize(spec.size() - sfx.size());
      return true;
    }
    return false;
  };
  if (!strip_mode(":ro", true)) strip_mode(":rw", false);
  if (spec.empty())
    return Status(Code::kInvalidArgument, "empty --share: use HOST_PATH[:GUEST_PATH][:ro]");
  auto colon = spec.find(':');
  s.host_path = spec.substr(0, colon);
  s.guest_path = colon == std::string::npos ? s.host_path : spec.substr(colon + 1);
  if (s.host_path.empty() || s.host_path.front() != '/') {
    return Status(Code::kInvalidArgument,
                  "--share '" + std::string(spec_in) +
                      "': the host path must be absolute (HOST_PATH[:GUEST_PATH][:ro])");
  }
  if (s.guest_path.find(':') != std::string::npos) {
    return Status(Code::kInvalidArgument, "--share '" + std::string(spec_in) +
                                              "': too many ':' (HOST_PATH[:GUEST_PATH][:ro])");
  }
  s.host_path = NormalizeAbsolute(s.host_path);
  s.guest_path = NormalizeAbsolute(s.guest_path);
  if (Status g = CheckGuestPath(s.guest_path); !g.ok()) {
    return Status(Code::kInvalidArgument, "--share '" + std::string(spec_in) + "': " + g.message());
  }
  return s;
}

namespace {

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

Status CheckShareSet(const std::vector<ShareSpec>& shares) {
  for (size_t i = 0; i < shares.size(); ++i) {
    // What goes into share.conf, one value a line: nothing that could start another.
    if (HasControl(shares[i].host_path) || HasControl(shares[i].guest_path)) {
      return {Code::kInvalidArgument,
              "a share path holds a control character (a newline?); rename the folder"};
    }
    for (const auto& name : shares[i].shown) {
      if (!ValidateWritablePath(name).ok()) {
        return {Code::kInvalidArgument,
                "--show takes a path relative to the shared folder (no '..', no control "
                "characters), e.g. --show .env or --show packages/app/.env"};
      }
    }
    if (shares[i].writable.size() > kMaxSharePaths || shares[i].protect.size() > kMaxSharePaths) {
      return {Code::kInvalidArgument,
              "at most " + std::to_string(kMaxSharePaths) + " --writable paths"};
    }
    for (const auto* list : {&shares[i].writable, &shares[i].protect}) {
      for (const auto& rel : *list) {
        if (Status s = ValidateWritablePath(rel); !s.ok()) return s;
      }
    }
    if (Status g = CheckGuestPath(shares[i].guest_path); !g.ok()) return g;
    for (size_t j = 0; j < i; ++j) {
      const auto& a = shares[i].guest_path;
      const auto& b = shares[j].guest_path;
      if (a == b) return {Code::kInvalidArgument, "two shares use the guest path " + a};
      if (PathWithin(a, b) || PathWithin(b, a)) {
        return {Code::kInvalidArgument,
                "guest paths " + b + " and " + a + " are nested; use separate paths"};
      }
    }
  }
  return Status::Ok();
}

}  // namespace ws::shares
