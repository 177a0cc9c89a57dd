#include "host/cli/cli_support.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace ws::cli {

// "[HOST_PORT:]GUEST_PORT" -> a PortForward (host 0: any free port).
Result<v1::PortForward> ParsePortSpec(const std::string& spec) {
  auto num = [](const std::string& s, uint32_t* out) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    *out = static_cast<uint32_t>(std::stoul(s));
    return *out >= 1 && *out <= 65535;
  };
  v1::PortForward f;
  uint32_t h = 0, g = 0;
  auto colon = spec.find(':');
  bool ok = colon == std::string::npos ? num(spec, &g) : num(spec.substr(0, colon), &h) && num(spec.substr(colon + 1), &g);
  if (!ok) return Status(Code::kInvalidArgument, "'" + spec + "' is not [HOST_PORT:]GUEST_PORT (ports 1-65535)");
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

}  // namespace ws::cli
