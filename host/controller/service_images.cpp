// ControllerService: images and the registry cache.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "host/common/grpc_status.h"
#include "host/common/unique_fd.h"
#include "host/controller/copy_relay.h"
#include "host/controller/exec_relay.h"
#include "host/controller/image_builder.h"
#include "host/controller/service.h"
#include "host/controller/service_support.h"
#include "host/shares/view.h"

namespace ws::controller {
namespace v1 = workspace::v1;

namespace {

void ToProto(const ImageView& v, v1::Image* out) {
  out->set_name(v.image.name);
  out->set_size_bytes(v.image.size_bytes);
  out->set_created_at(v.image.created);
  out->set_kernel(v.image.kernel_release);
  out->set_disk(!v.image.base.empty());
  out->set_default_cpus(v.image.default_cpus);
  out->set_default_memory_mib(v.image.default_memory_mib);
  out->set_default_disk_gib(v.image.default_disk_gib);
  for (const auto& u : v.used_by) out->add_used_by(u);
  for (const auto& t : v.templates) {
    auto* o = out->add_templates();
    o->set_state(t.state);
    o->set_cpus(t.cpus);
    o->set_memory_mib(t.memory_mib);
    o->set_disk_gib(t.disk_gib);
    o->set_net(t.net);
    o->set_cpu_model(t.cpu_model);
    o->set_memory_bytes(t.memory_bytes);
    o->set_disk_bytes(t.disk_bytes);
    o->set_built_at(t.built_at);
    o->set_build_seconds(t.build_seconds);
  }
  out->set_from(v.image.from);
  out->set_from_created_at(v.image.from_created);
  for (const auto& r : v.image.run) out->add_run(r);
  for (const auto& a : v.image.allow) out->add_allow(a);
  out->set_owner_uid(v.image.owner_uid);
}

}  // namespace

grpc::Status ControllerService::ImageList(Ctx* ctx, const v1::ImageListRequest*,
                                          v1::ImageListResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  for (const auto& v : workspaces_.Images(caller)) ToProto(v, resp->add_images());
  for (const char* name : {"debian"}) {
    if (workspaces_.image_store().Buildable(name)) resp->add_buildable(name);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::ImageBuild(Ctx* ctx, const v1::ImageBuildRequest* req,
                                           grpc::ServerWriter<v1::ImageBuildProgress>* writer) {
  WS_IDENTIFY(ctx, caller);
  bool connected = true;
  auto on_line = [&](const std::string& line) {
    v1::ImageBuildProgress p;
    p.set_line(line);
    if (connected) connected = writer->Write(p);
  };
  // A derived image: from the request, or its recorded recipe again.
  std::optional<ImageRecipe> recipe;
  if (!req->from().empty()) {
    recipe = ImageRecipe{req->name(),
                         req->from(),
                         {req->run().begin(), req->run().end()},
                         {req->allow().begin(), req->allow().end()}};
  } else if (!req->run().empty() || !req->allow().empty()) {
    return ToGrpc(Status(Code::kInvalidArgument,
                         "--run and --allow need --from IMAGE (the image to derive from)"));
  } else if (auto old = workspaces_.image_store().Recorded(req->name());
             old.ok() && !old->from.empty()) {
    // Another user's image is not the caller's to see, nor its recipe to run.
    if (!caller.may_access(old->owner_uid) && old->owner_uid != 0) {
      return ToGrpc(Status(Code::kNotFound, "image '" + req->name() +
                                                "' is not installed; derive one with: "
                                                "workspace image build " +
                                                req->name() + " --from debian --run 'COMMAND'"));
    }
    recipe = ImageRecipe{old->name, old->from, old->run, old->allow};
  }
  Status s;
  if (recipe) {
    if (recipe->allow.size() > kMaxRecipeAllow) {
      return ToGrpc(Status(
          Code::kInvalidArgument,
          "an image recipe allows at most " + std::to_string(kMaxRecipeAllow) + " extra hosts"));
    }
    DerivedBuild b{*recipe, {}};
    for (const auto& a : req->default_allow()) {
      auto e = FromProto(a);
      if (!e.ok()) return ToGrpc(e.status());
      b.allow.push_back(e.value());
    }
    for (const auto& spec : recipe->allow) {
      auto e = net::ParseAllowEntry(spec, "user");
      if (!e.ok()) return ToGrpc(e.status());
      b.allow.push_back(e.value());
    }
    // Ctrl-C in the CLI ends the build (its workspace goes with it).
    auto built =
        BuildDerivedImage(workspaces_, caller, b, on_line, [ctx] { return ctx->IsCancelled(); });
    s = built.status();
  } else {
    // A script's build goes on if the caller goes away: the next create needs it anyway.
    s = workspaces_.BuildImage(req->name(), on_line);
  }
  if (!s.ok()) return ToGrpc(s);
  for (const auto& v : workspaces_.Images(caller)) {
    if (v.image.name != req->name()) continue;
    v1::ImageBuildProgress last;
    ToProto(v, last.mutable_image());
    writer->Write(last);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::ImageRemove(Ctx* ctx, const v1::ImageRemoveRequest* req,
                                            v1::ImageRemoveResponse*) {
  WS_IDENTIFY(ctx, caller);
  return ToGrpc(workspaces_.RemoveImage(caller, req->name()));
}

grpc::Status ControllerService::Cache(Ctx* ctx, const v1::CacheRequest* req,
                                      v1::CacheResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  registry::Registry* reg = workspaces_.registry();
  if (!reg)
    return ToGrpc(Status(Code::kFailedPrecondition, "this daemon serves no registry endpoints"));
  auto config = reg->CurrentConfig();
  if (!config.ok()) return ToGrpc(config.status());
  registry::Cache& cache = reg->CacheOf(caller.uid, config.value());
  if (req->clear()) {
    auto freed = cache.Clear();
    resp->set_freed_bytes(freed.bytes);
    resp->set_freed_entries(freed.entries);
  }
  auto now = cache.Usage();
  resp->set_bytes(now.bytes);
  resp->set_entries(now.entries);
  resp->set_max_bytes(config->cache_max_bytes);
  resp->set_npm_upstream(config->npm_upstream);
  return grpc::Status::OK;
}

}  // namespace ws::controller
