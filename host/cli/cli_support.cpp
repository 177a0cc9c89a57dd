#include "host/cli/cli_support.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/printable.h"

namespace ws::cli {

// "[HOST_PORT:]GUEST_PORT" -> a PortForward (host 0: any free port).
Result<v1::PortForward> ParsePortSpec(const std::string& spec) {
  auto num = [](const std::string& s, uint32_t* out) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    *out = static_cast<uint32_t>(std::stoul(s));
    return *out >= 1 && *out <= 65535;
  };
  v1::PortForward f;
  uint32_t h = 0, g = 0;
  auto colon = spec.find(':');
  bool ok = colon == std::string::npos
                ? num(spec, &g)
                : num(spec.substr(0, colon), &h) && num(spec.substr(colon + 1), &g);
  if (!ok)
    return Status(Code::kInvalidArgument,
                  "'" + spec + "' is not [HOST_PORT:]GUEST_PORT (ports 1-65535)");
  f.set_host_port(h);
  f.set_guest_port(g);
  return f;
}

int Fail(const std::string& msg, int code) {
  std::fprintf(stderr, "workspace: %s\n", msg.c_str());
  return code;
}

int Fail(const Status& s, bool exec_like) {
  return Fail(s.message(), exec_like ? kExecFailure : ExitCodeFor(s));
}

std::string Size(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / double(1ull << 30));
  } else {
    std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / double(1ull << 20));
  }
  return buf;
}

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

bool Tty() { return isatty(2); }

Stub* Context::Connect(bool exec_like) {
  if (stub) return stub.get();
  auto s = ConnectDaemon(global);
  if (!s.ok()) {
    code = Fail(s.status(), exec_like);
    return nullptr;
  }
  stub = std::move(s.value());
  return stub.get();
}

grpc::ClientContext* Deadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

Result<std::string> WorkspaceForFolder(const v1::ListResponse& list, const std::string& folder,
                                       uint32_t uid, std::string* why) {
  namespace fs = std::filesystem;
  // Nearest first: the folder itself, then each one above it.
  for (fs::path dir = folder; !dir.empty(); dir = dir.parent_path()) {
    std::vector<std::string> found;
    for (const auto& w : list.workspaces()) {
      if (w.owner_uid() != uid) continue;
      for (const auto& sh : w.shares()) {
        if (fs::path(sh.host_path()).lexically_normal() == dir.lexically_normal()) {
          if (std::find(found.begin(), found.end(), w.name()) == found.end())
            found.push_back(w.name());
        }
      }
    }
    if (found.size() > 1) {
      std::string names;
      for (const auto& n : found) names += (names.empty() ? "" : ", ") + n;
      return Status(Code::kInvalidArgument, "several workspaces share " + Printable(dir.string()) +
                                                " (" + names +
                                                "); name one: workspace COMMAND NAME");
    }
    if (found.size() == 1) {
      if (dir != fs::path(folder) || found[0] != NameFromFolder(dir.filename().string())) {
        *why = "'" + found[0] + "' (it shares " + Printable(dir.string()) + ")";
      }
      return found[0];
    }
    if (dir == dir.parent_path()) break;
  }
  const std::string by_name = NameFromFolder(fs::path(folder).filename().string());
  for (const auto& w : list.workspaces()) {
    if (w.name() != by_name || w.owner_uid() != uid) continue;
    // Named after this folder, yet made from another one: not obvious.
    if (w.shares_size() > 0)
      *why = "'" + by_name + "' (named after this folder; it shares " +
             Printable(w.shares(0).host_path()) + ")";
    return by_name;
  }
  return Status(Code::kNotFound,
                "no workspace of yours shares " + Printable(folder) +
                    " or a folder above it; "
                    "make one here with: workspace create (or name one: workspace COMMAND NAME; "
                    "see workspace list)");
}

Result<std::string> ResolveName(Stub* stub, const std::string& given,
                                const std::string& obvious_for) {
  if (!given.empty()) return given;
  std::error_code ec;
  const auto cwd = std::filesystem::current_path(ec);
  if (ec)
    return Status(Code::kInvalidArgument,
                  "no NAME given and the current folder is gone; name a workspace");
  grpc::ClientContext ctx;
  v1::ListResponse list;
  Status s = FromGrpc(stub->List(Deadline(&ctx, 30), v1::ListRequest(), &list));
  if (!s.ok()) return s;
  std::string why;
  auto name = WorkspaceForFolder(list, cwd.string(), static_cast<uint32_t>(geteuid()), &why);
  if (name.ok() && !why.empty()) {
    if (!obvious_for.empty()) {
      return Status(Code::kInvalidArgument, "this folder is not the one " + why +
                                                " was made from; name it: "
                                                "workspace " +
                                                obvious_for + " " + name.value());
    }
    if (Tty()) std::fprintf(stderr, "workspace: using %s\n", why.c_str());
  }
  return name;
}

bool Context::Resolve(Stub* stub, std::string* name, bool exec_like,
                      const std::string& obvious_for) {
  auto n = ResolveName(stub, *name, obvious_for);
  if (!n.ok()) {
    code = Fail(n.status(), exec_like);
    return false;
  }
  *name = n.value();
  return true;
}

bool Context::SplitName(Stub* stub, std::vector<std::string>* args, std::string* name,
                        bool first_is_name) {
  if (first_is_name && !args->empty()) {
    *name = args->front();
    args->erase(args->begin());
    return true;
  }
  return Resolve(stub, name);
}

void PrintGithubRules(const v1::GithubRules& rules,
                      const google::protobuf::RepeatedPtrField<v1::AllowRule>& allow,
                      const std::string& indent) {
  const bool on = std::any_of(allow.begin(), allow.end(),
                              [](const v1::AllowRule& a) { return a.source() == "github"; });
  if (!on && rules.push().empty() && rules.api_write().empty()) return;
  std::printf("%sGitHub rules: clone and fetch any repository; API reads\n", indent.c_str());
  if (rules.push().empty())
    std::printf("%s  push: nothing (add --push OWNER/REPO)\n", indent.c_str());
  for (const auto& p : rules.push()) {
    std::printf("%s  push %s%s\n", indent.c_str(), p.c_str(),
                p.find(':') == std::string::npos ? " (agent/* and workspace/*)" : "");
  }
  for (const auto& a : rules.api_write())
    std::printf("%s  api-write %s\n", indent.c_str(), a.c_str());
}

void PrintBoot(const std::string& name, const v1::Boot& boot) {
  if (boot.mode() == "template") {
    std::fprintf(stderr, "%s: restored from its image's template in %.2f s\n", name.c_str(),
                 boot.seconds());
  } else {
    std::fprintf(stderr, "%s: booted cold in %.2f s: %s\n", name.c_str(), boot.seconds(),
                 Printable(boot.reason()).c_str());
  }
}

}  // namespace ws::cli
