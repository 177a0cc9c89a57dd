#include "host/cli/cp_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "host/cli/exit_codes.h"
#include "host/cli/tree_writer.h"
#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/tree_walk.h"

namespace ws::cli {
namespace {

namespace v1 = workspace::v1;

int Fail(const Status& s) {
  std::fprintf(stderr, "workspace: cp: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

std::string Basename(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string Dirname(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

int CopyOut(v1::Controller::Stub* stub, const CpTarget& from, const std::string& to) {
  // Like cp: into an existing directory, or as the new name `to`. lstat: a
  // symlink at `to` (perhaps left by an earlier copy from the guest) is
  // replaced, never followed.
  struct stat st;
  std::string parent = Dirname(to), name = Basename(to);
  if (lstat(to.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    parent = to;
    name = Basename(from.path);
  } else if (!to.empty() && to.back() == '/') {
    return Fail({Code::kNotFound, "directory " + to + " does not exist"});
  }
  if (name.empty() || name == "/" || name == "." || name == "..") {
    return Fail({Code::kInvalidArgument,
                 "cannot name the copy of '" + from.path + "'; give a destination name"});
  }
  auto writer = TreeWriter::Open(parent, name);
  if (!writer.ok()) return Fail(writer.status());

  grpc::ClientContext ctx;
  v1::CopyOutRequest req;
  req.set_workspace(from.workspace);
  req.set_path(from.path);
  auto reader = stub->CopyOut(&ctx, req);
  v1::TreeChunk chunk;
  Status s;
  while (s.ok() && reader->Read(&chunk)) {
    if (chunk.has_entry()) {
      s = writer->Entry(chunk.entry());
    } else if (chunk.has_data()) {
      s = writer->Data(chunk.data());
    } else {
      s = Status(Code::kInvalidArgument, "refusing the guest's copy: unexpected message");
    }
  }
  if (!s.ok()) ctx.TryCancel();
  Status done = FromGrpc(reader->Finish());
  writer->Finish();
  if (!s.ok()) return Fail(s);
  if (!done.ok()) return Fail(done);
  if (writer->entries() == 0) return Fail({Code::kNotFound, from.path + ": nothing was copied"});
  if (isatty(2)) {
    std::fprintf(stderr, "Copied %llu entries (%llu bytes) to %s/%s\n",
                 static_cast<unsigned long long>(writer->entries()),
                 static_cast<unsigned long long>(writer->bytes()), parent.c_str(), name.c_str());
  }
  return kOk;
}

int CopyIn(v1::Controller::Stub* stub, const std::string& from, const CpTarget& to, bool follow) {
  struct stat st;
  if ((follow ? stat(from.c_str(), &st) : lstat(from.c_str(), &st)) != 0) {
    return Fail(ErrnoStatus(from, errno));
  }
  grpc::ClientContext ctx;
  v1::WriteTreeResponse resp;
  auto writer = stub->CopyIn(&ctx, &resp);
  v1::CopyInRequest req;
  req.mutable_start()->set_workspace(to.workspace);
  req.mutable_start()->mutable_target()->set_dest(to.path);
  req.mutable_start()->mutable_target()->set_root_name(Basename(from));
  writer->Write(req);
  Status s = WalkTree(from, follow, [&](const v1::TreeChunk& c) {
    *req.mutable_chunk() = c;
    return writer->Write(req);
  });
  if (!s.ok()) ctx.TryCancel();
  writer->WritesDone();
  Status done = FromGrpc(writer->Finish());
  if (!done.ok())
    return Fail(done);  // the guest's reason comes first: it says why the stream broke
  if (!s.ok()) return Fail(s);
  if (isatty(2)) {
    std::fprintf(stderr, "Copied %llu entries (%llu bytes) to %s:%s\n",
                 static_cast<unsigned long long>(resp.entries()),
                 static_cast<unsigned long long>(resp.bytes()), to.workspace.c_str(),
                 resp.root().c_str());
  }
  return kOk;
}

}  // namespace

CpTarget ParseCpTarget(const std::string& arg) {
  auto colon = arg.find(':');
  auto slash = arg.find('/');
  if (colon == std::string::npos || (slash != std::string::npos && slash < colon)) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

int RunCp(v1::Controller::Stub* stub, const CpOptions& o) {
  CpTarget src = ParseCpTarget(o.src), dst = ParseCpTarget(o.dst);
  if (src.workspace.empty() == dst.workspace.empty()) {
    return Fail({Code::kInvalidArgument,
                 "exactly one of SRC and DST must be NAME:/path (a workspace path)"});
  }
  const CpTarget& remote = src.workspace.empty() ? dst : src;
  if (Status v = ValidateName(remote.workspace); !v.ok()) return Fail(v);
  if (remote.path.empty() || remote.path.front() != '/') {
    return Fail({Code::kInvalidArgument,
                 "the workspace path must be absolute: " + remote.workspace + ":/path"});
  }
  if (src.workspace.empty()) return CopyIn(stub, src.path, dst, o.follow_symlinks);
  return CopyOut(stub, src, dst.path);
}

}  // namespace ws::cli
