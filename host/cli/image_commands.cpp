#include "host/cli/image_commands.h"

#include <cstdio>

#include "host/common/grpc_status.h"

namespace ws::cli {
namespace {

std::string Size(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / double(1ull << 30));
  } else {
    std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / double(1ull << 20));
  }
  return buf;
}

Result<v1::ImageListResponse> ListImages(Stub* stub) {
  grpc::ClientContext ctx;
  v1::ImageListResponse resp;
  Status s = FromGrpc(stub->ImageList(Deadline(&ctx, 60), v1::ImageListRequest(), &resp));
  if (!s.ok()) return s;
  return resp;
}

}  // namespace

Status BuildImage(Stub* stub, const std::string& name, v1::Image* built) {
  grpc::ClientContext ctx;
  v1::ImageBuildRequest req;
  req.set_name(name);
  auto reader = stub->ImageBuild(&ctx, req);
  v1::ImageBuildProgress p;
  const bool tty = Tty();
  while (reader->Read(&p)) {
    if (!p.line().empty() && tty) std::fprintf(stderr, "%s\n", p.line().c_str());
    if (p.has_image() && built) *built = p.image();
  }
  return FromGrpc(reader->Finish());
}

Status EnsureImage(Stub* stub, const std::string& name) {
  auto list = ListImages(stub);
  if (!list.ok()) return list.status();
  for (const auto& img : list->images()) {
    if (img.name() == name) return Status::Ok();
  }
  bool buildable = false;
  for (const auto& b : list->buildable()) buildable |= b == name;
  if (!buildable) return Status::Ok();
  std::fprintf(stderr, "workspace: image '%s' is not built yet; building it now (about a minute or a "
                       "few, once)...\n", name.c_str());
  return BuildImage(stub, name);
}

ImageCommands::ImageCommands(CLI::App& app, Context& context) : c(context) {
  image_cmd = app.add_subcommand("image", "Build, list and remove guest images");
  image_cmd->require_subcommand(1);

  auto* build = image_cmd->add_subcommand("build", "Build an image (debian) and install it");
  build->add_option("name", build_name, "Image to build (default debian)");
  build->add_flag("--json", build_json, "Print the built image as JSON (fields in docs/cli.md)");
  build->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    v1::Image img;
    Status s = BuildImage(stub, build_name, &img);
    if (!s.ok()) return void(c.code = Fail(s));
    if (build_json) {
      std::printf("%s\n", ToJson(img).c_str());
    } else {
      std::printf("built %s (%s)\n", img.name().c_str(), Size(img.size_bytes()).c_str());
    }
  });

  auto* list = image_cmd->add_subcommand("list", "List installed images");
  list->alias("ls");
  list->add_flag("--json", list_json, "JSON output (fields in docs/cli.md)");
  list->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    auto resp = ListImages(stub);
    if (!resp.ok()) return void(c.code = Fail(resp.status()));
    if (list_json) {
      std::string out = "[";
      for (int i = 0; i < resp->images_size(); ++i) out += (i ? "," : "") + ToJson(resp->images(i));
      std::printf("%s]\n", out.c_str());
      return;
    }
    std::printf("%-12s %-9s %-21s %-24s %s\n", "NAME", "SIZE", "CREATED", "KERNEL", "USED BY");
    for (const auto& img : resp->images()) {
      std::string users;
      for (const auto& u : img.used_by()) users += (users.empty() ? "" : ",") + u;
      std::printf("%-12s %-9s %-21s %-24s %s\n", img.name().c_str(), Size(img.size_bytes()).c_str(),
                  img.created_at().c_str(), img.kernel().c_str(), users.empty() ? "-" : users.c_str());
    }
  });

  auto* rm = image_cmd->add_subcommand("rm", "Remove an image no workspace uses");
  rm->alias("remove");
  rm->add_option("name", rm_name, "Image name")->required();
  rm->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::ImageRemoveRequest req;
    req.set_name(rm_name);
    v1::ImageRemoveResponse resp;
    Status s = FromGrpc(stub->ImageRemove(Deadline(&ctx, 60), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    std::printf("removed image %s\n", rm_name.c_str());
  });
}

}  // namespace ws::cli
