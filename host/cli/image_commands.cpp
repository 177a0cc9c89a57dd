#include "host/cli/image_commands.h"

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/cli/default_allow.h"
#include "host/cli/exit_codes.h"
#include "host/cli/project_file.h"
#include "host/cli/project_trust.h"
#include "host/common/grpc_status.h"

namespace ws::cli {
namespace {

Result<v1::ImageListResponse> ListImages(Stub* stub) {
  grpc::ClientContext ctx;
  v1::ImageListResponse resp;
  Status s = FromGrpc(stub->ImageList(Deadline(&ctx, 60), v1::ImageListRequest(), &resp));
  if (!s.ok()) return s;
  return resp;
}

// The default allowlist this host's configuration gives, as create finds it.
void AddDefaultAllow(v1::ImageBuildRequest* req) {
  for (const auto& a : DefaultAllowlist()) {
    auto* rule = req->add_default_allow();
    rule->set_host(a.host);
    rule->set_port(a.port);
    rule->set_source(a.source);
  }
}

}  // namespace

Status BuildImage(Stub* stub, const v1::ImageBuildRequest& req, v1::Image* built) {
  grpc::ClientContext ctx;
  auto reader = stub->ImageBuild(&ctx, req);
  v1::ImageBuildProgress p;
  const bool tty = Tty();
  // Off a terminal the build is quiet, but a failed one shows how it ended.
  std::deque<std::string> tail;
  while (reader->Read(&p)) {
    if (!p.line().empty() && tty) std::fprintf(stderr, "%s\n", p.line().c_str());
    if (!p.line().empty() && !tty) {
      tail.push_back(p.line());
      if (tail.size() > 20) tail.pop_front();
    }
    if (p.has_image() && built) *built = p.image();
  }
  Status s = FromGrpc(reader->Finish());
  if (!s.ok()) {
    for (const auto& line : tail) std::fprintf(stderr, "%s\n", line.c_str());
  }
  return s;
}

v1::ImageBuildRequest DerivedRequest(const std::string& name, const ImageRecipeSpec& r,
                                     bool no_default_allow) {
  v1::ImageBuildRequest req;
  req.set_name(name);
  req.set_from(r.from);
  for (const auto& s : r.run) req.add_run(s);
  for (const auto& a : r.allow) req.add_allow(a);
  if (!no_default_allow) AddDefaultAllow(&req);
  return req;
}

Status EnsureImage(Stub* stub, const std::string& name,
                   const std::optional<ImageRecipeSpec>& recipe) {
  auto list = ListImages(stub);
  if (!list.ok()) return list.status();
  for (const auto& img : list->images()) {
    if (img.name() == name) return Status::Ok();
  }
  if (recipe) {
    std::fprintf(stderr, "workspace: image '%s' is not built yet; building it from %s (once)...\n",
                 name.c_str(), recipe->source.c_str());
    return BuildImage(stub, DerivedRequest(name, *recipe, false));
  }
  bool buildable = false;
  for (const auto& b : list->buildable()) buildable |= b == name;
  if (!buildable) return Status::Ok();
  std::fprintf(stderr,
               "workspace: image '%s' is not built yet; building it now (about a minute or a "
               "few, once)...\n",
               name.c_str());
  v1::ImageBuildRequest req;
  req.set_name(name);
  return BuildImage(stub, req);
}

ImageCommands::ImageCommands(CLI::App& app, Context& context) : c(context) {
  image_cmd = app.add_subcommand("image", "Build, list and remove guest images");
  image_cmd->require_subcommand(1);

  auto* build = image_cmd->add_subcommand("build",
                                          "Build an image: debian, or one derived from another "
                                          "(--from IMAGE --run CMD), and install it");
  auto* name_opt = build->add_option("name", build_name, "Image to build (default debian)");
  build->add_option("--from", build_from, "Derive the image from this disk image (e.g. debian)")
      ->type_name("IMAGE");
  build
      ->add_option("--run", build_run,
                   "Command to run as root in the build, with sh -c (repeatable, in order)")
      ->type_name("CMD")
      ->allow_extra_args(false);
  build
      ->add_option("--allow", build_allow,
                   "Let the build also reach HOST[:PORT] or *.DOMAIN (repeatable)")
      ->type_name("HOST[:PORT]")
      ->allow_extra_args(false);
  build->add_flag("--no-default-allow", build_no_default_allow,
                  "The build reaches only --allow hosts (no registries, no AI APIs)");
  build->add_option("--file", build_file, "Read from, run and allow from this recipe file (TOML)")
      ->type_name("PATH");
  build->add_flag("--json", build_json, "Print the built image as JSON (fields in docs/cli.md)");
  build->callback([&, name_opt] {
    const bool build_name_given = name_opt->count() > 0;
    std::optional<ImageRecipeSpec> recipe;
    if (!build_file.empty()) {
      if (!build_from.empty() || !build_run.empty()) {
        return void(c.code = Fail("--file gives from and run; drop --from and --run", kUsage));
      }
      std::ifstream f(build_file);
      if (!f) return void(c.code = Fail("cannot read recipe file " + build_file, kFailure));
      std::stringstream text;
      text << f.rdbuf();
      auto r = ParseRecipeFile(text.str(), build_file);
      if (!r.ok()) return void(c.code = Fail(r.status()));
      recipe = r.value();
    } else if (!build_from.empty() || !build_run.empty()) {
      if (build_from.empty())
        return void(c.code = Fail("--run needs --from IMAGE (the image to derive from)", kUsage));
      if (build_run.empty())
        return void(c.code = Fail("--from needs at least one --run 'COMMAND'", kUsage));
      recipe = ImageRecipeSpec{build_from, build_run, {}, "the command line"};
    } else {
      // A recipe written down: the project's, then the user's.
      auto project =
          LoadTrustedProjectFile(std::filesystem::current_path().string(), false, CanAsk());
      if (!project.ok()) return void(c.code = Fail(project.status()));
      if (project->has_value() && (*project)->images.count(build_name)) {
        recipe = (*project)->images.at(build_name);
      } else {
        auto user = LoadUserRecipe(build_name);
        if (!user.ok()) return void(c.code = Fail(user.status()));
        recipe = user.value();
      }
    }
    v1::ImageBuildRequest req;
    if (recipe && build_name == "debian" && !build_name_given) {
      return void(c.code = Fail("give the new image a name: workspace image build NAME --from " +
                                    recipe->from + " ...",
                                kUsage));
    }
    if (recipe) {
      recipe->allow.insert(recipe->allow.end(), build_allow.begin(), build_allow.end());
      req = DerivedRequest(build_name, *recipe, build_no_default_allow);
    } else {
      // The daemon rebuilds from its script or from the recorded recipe.
      if (!build_allow.empty())
        return void(c.code = Fail("--allow needs --from IMAGE or a recipe", kUsage));
      req.set_name(build_name);
      if (!build_no_default_allow) AddDefaultAllow(&req);
    }
    Stub* stub = c.Connect(false);
    if (!stub) return;
    v1::Image img;
    Status s = BuildImage(stub, req, &img);
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
    std::printf("%-12s %-9s %-21s %-24s %-10s %s\n", "NAME", "SIZE", "CREATED", "KERNEL", "FROM",
                "USED BY");
    for (const auto& img : resp->images()) {
      std::string users;
      for (const auto& u : img.used_by()) users += (users.empty() ? "" : ",") + u;
      std::printf("%-12s %-9s %-21s %-24s %-10s %s\n", img.name().c_str(),
                  Size(img.size_bytes()).c_str(), img.created_at().c_str(), img.kernel().c_str(),
                  img.from().empty() ? "-" : img.from().c_str(),
                  users.empty() ? "-" : users.c_str());
      // What a derived image was made with, one step a line (commands are
      // the user's own text, shown cleaned of control characters).
      for (int i = 0; i < img.run_size(); ++i) {
        std::string step;
        for (char ch : img.run(i)) step += ch == '\n' ? ' ' : (ch >= 0x20 && ch < 0x7f) ? ch : '?';
        if (step.size() > 100) step = step.substr(0, 97) + "...";
        std::printf("  run %d: %s\n", i + 1, step.c_str());
      }
      // Its templates: what create and reset restore (docs/cli.md#templates).
      for (const auto& t : img.templates()) {
        if (t.state() == "building") {
          std::printf("  template: building\n");
          continue;
        }
        std::string shape =
            std::to_string(t.cpus()) + " vCPU, " + std::to_string(t.memory_mib()) + " MiB" +
            (t.disk_gib() ? ", " + std::to_string(t.disk_gib()) + " GiB disk" : "") + ", net " +
            t.net();
        std::printf("  template: %s: %s (memory %s, disk %s), built %s%s\n", shape.c_str(),
                    Size(t.memory_bytes() + t.disk_bytes()).c_str(), Size(t.memory_bytes()).c_str(),
                    Size(t.disk_bytes()).c_str(), t.built_at().c_str(),
                    t.state() == "stale" ? ", stale (made for an older build: not used)" : "");
      }
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
