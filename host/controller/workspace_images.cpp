#include <algorithm>
#include <set>
#include <string>

#include "host/controller/workspaces.h"
#include "host/controller/workspaces_internal.h"

namespace ws::controller {

using namespace internal;

void Workspaces::CollectUnusedBases() {
  std::set<std::string> used;
  auto vms = hv_.List();
  if (!vms.ok()) return;  // which bases are in use is unknown: keep them all
  for (const auto& vm : vms.value()) {
    auto meta = virt::ParseMetadata(vm.metadata_xml);
    if (!meta.ok()) return;
    if (!meta->base.empty()) used.insert(meta->base);
  }
  images_.CollectBases(used);
  // A template never keeps a base: one whose base went is of no use.
  if (templates_) templates_->DropOrphans();
}

bool MayUseImage(const Caller& c, const Image& img) {
  return img.from.empty() || img.owner_uid == 0 || c.may_access(img.owner_uid);
}

std::vector<ImageView> Workspaces::Images(const Caller& c) {
  std::vector<ImageView> out;
  auto vms = hv_.List();
  for (auto& img : images_.List()) {
    if (!MayUseImage(c, img)) continue;
    ImageView v{img, {}, {}};
    if (templates_) {
      for (auto& t : templates_->List()) {
        if (t.image != img.name) continue;
        // Made for the image's files as they are now, or for older ones.
        TemplateKey key;
        key.image = img.name;
        key.kernel = img.kernel;
        key.initrd = img.initrd;
        key.base = img.base;
        key.cpus = t.cpus;
        key.memory_mib = t.memory_mib;
        key.disk_gib = t.disk_gib;
        key.cpu_model = t.cpu_model;
        key.accel = t.accel;
        key.net = t.net;
        if (t.state == "ready" && key.DirName() != t.dir_name) t.state = "stale";
        v.templates.push_back(std::move(t));
      }
    }
    if (vms.ok()) {
      for (const auto& vm : vms.value()) {
        auto meta = virt::ParseMetadata(vm.metadata_xml);
        if (meta.ok() && meta->image == img.name && c.may_access(meta->owner_uid))
          v.used_by.push_back(vm.name);
      }
    }
    std::sort(v.used_by.begin(), v.used_by.end());
    out.push_back(std::move(v));
  }
  return out;
}

Status Workspaces::RemoveImage(const Caller& c, const std::string& name) {
  // What image.env records, even when the disk is gone: a broken image of
  // another user's is still theirs.
  auto img = images_.Recorded(name);
  if (!img.ok()) return img.status();
  if (!c.may_access(img->owner_uid)) {
    // A derived image is its builder's; root's and the scripts' are everyone's
    // to use and only root's to remove.
    if (img->owner_uid != 0)
      return {Code::kNotFound,
              "no image named '" + name + "'; see them with: workspace image list"};
    return {Code::kPermissionDenied, "image '" + name + "' was built by " +
                                         (img->from.empty() ? "setup" : "root") +
                                         "; only root may remove it"};
  }
  if (images_.Building(name)) {
    return {Code::kFailedPrecondition, "image '" + name +
                                           "' is being built; wait for the build to end, or "
                                           "cancel it with Ctrl-C"};
  }
  auto vms = hv_.List();
  if (!vms.ok()) return vms.status();
  std::string users;
  int others = 0;
  for (const auto& vm : vms.value()) {
    auto meta = virt::ParseMetadata(vm.metadata_xml);
    if (!meta.ok() || meta->image != name) continue;
    if (c.may_access(meta->owner_uid)) {
      users += (users.empty() ? "" : ", ") + vm.name;
    } else {
      ++others;  // other users' workspace names are not the caller's to see
    }
  }
  if (others)
    users +=
        (users.empty() ? "" : " and ") + std::to_string(others) + " workspace(s) of other users";
  if (!users.empty()) {
    return {Code::kFailedPrecondition,
            "image '" + name + "' is used by " + users + "; destroy " +
                (users.find(',') == std::string::npos && others <= 1 ? "it" : "them") + " first"};
  }
  Status s = images_.Remove(name);
  if (!s.ok()) return s;
  if (templates_) templates_->Forget(name);
  CollectUnusedBases();
  return Status::Ok();
}

Status Workspaces::BuildImage(const std::string& name,
                              const std::function<void(const std::string&)>& on_line) {
  Status s = images_.Build(name, on_line);
  if (s.ok()) CollectUnusedBases();
  return s;
}

}  // namespace ws::controller
