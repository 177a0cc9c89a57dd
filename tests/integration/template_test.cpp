// Templates (issue #24): create and reset restore a saved, booted guest.
// Real VMs through the real CLI, daemon, libvirt and agent: clones of one
// template share nothing random, a cold boot is there when asked for, and
// a template made before its image was rebuilt is never used.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/integration/environment.h"

namespace ws::test {
namespace {

namespace fs = std::filesystem;

World& W() { return World::Get(); }

bool TemplatesOff() {
  const char* v = getenv("WORKSPACE_TEMPLATES");
  return v && std::string(v) == "off";
}

// The ready templates of `image` in `image list --json`, as "CPUS/MIB" each.
std::vector<std::string> ReadyTemplates(const std::string& image) {
  auto list = W().Cli({"image", "list", "--json"});
  std::vector<std::string> out;
  const size_t at = list.out.find("\"name\":\"" + image + "\"");
  if (at == std::string::npos) return out;
  const size_t end = list.out.find("\"name\":\"", at + 1);
  const std::string img =
      list.out.substr(at, end == std::string::npos ? std::string::npos : end - at);
  std::regex t("\\{\"state\":\"ready\",\"cpus\":(\\d+),\"memory_mib\":(\\d+)");
  for (std::sregex_iterator it(img.begin(), img.end(), t), e; it != e; ++it) {
    out.push_back((*it)[1].str() + "/" + (*it)[2].str());
  }
  return out;
}

// Waits for the template of `image` at CPUS/MIB (built in the background
// after a cold boot found none).
bool WaitForTemplate(const std::string& image, const std::string& shape, int seconds = 240) {
  for (int i = 0; i < seconds * 2; ++i) {
    for (const auto& t : ReadyTemplates(image)) {
      if (t == shape) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return false;
}

// create NAME --verbose in `folder` (shared at /workspace); its stderr.
std::string Create(const std::string& name, const std::string& folder,
                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"create", name, "--verbose"};
  args.insert(args.end(), extra.begin(), extra.end());
  RunOptions o;
  o.cwd = folder;
  auto r = W().Cli(args, o);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.err;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// What must differ between two clones: boot_id, machine-id, a hash of the
// first MiB of /dev/urandom, the host name; then what the share holds.
std::vector<std::string> Fingerprint(const std::string& name) {
  auto r = W().Cli({"exec", name, "--", "sh", "-c",
                    "cat /proc/sys/kernel/random/boot_id /etc/machine-id; "
                    "head -c 1048576 /dev/urandom | sha256sum | cut -c1-64; hostname; "
                    "cat /workspace/probe.txt; echo from-$(hostname) > /workspace/back.txt"});
  EXPECT_EQ(r.code, 0) << r.err;
  return Lines(r.out);
}

class Templates : public ::testing::Test {
 protected:
  void SetUp() override {
    if (TemplatesOff()) GTEST_SKIP() << "WORKSPACE_TEMPLATES=off";
  }
};

TEST_F(Templates, ClonesOfOneTemplateShareNothingRandomAndGetTheirOwnShares) {
  const std::string seed = W().NewFolder("tpl-seed");
  Create("tpl-seed", seed);  // restored or cold: either way a template follows
  ASSERT_TRUE(WaitForTemplate("minimal", "1/512")) << W().Cli({"image", "list"}).out;

  std::vector<std::vector<std::string>> prints;
  for (const std::string name : {"tpl-a", "tpl-b"}) {
    const std::string folder = W().NewFolder(name);
    std::ofstream(folder + "/probe.txt") << "host file of " << name << "\n";
    const std::string err = Create(name, folder);
    EXPECT_NE(err.find(name + ": restored from its image's template"), std::string::npos) << err;
    auto p = Fingerprint(name);
    ASSERT_EQ(p.size(), 5u) << name;
    EXPECT_TRUE(std::regex_match(p[0], std::regex("[0-9a-f-]{36}"))) << p[0];
    EXPECT_TRUE(std::regex_match(p[1], std::regex("[0-9a-f]{32}"))) << p[1];
    EXPECT_TRUE(std::regex_match(p[2], std::regex("[0-9a-f]{64}"))) << p[2];
    EXPECT_EQ(p[3], name);                    // its own host name, not the template's (none)
    EXPECT_EQ(p[4], "host file of " + name);  // its share, hot-plugged and mounted
    std::ifstream back(folder + "/back.txt");
    std::string line;
    std::getline(back, line);
    EXPECT_EQ(line, "from-" + name);  // and written through to the host
    prints.push_back(p);
  }
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NE(prints[0][i], prints[1][i]) << "line " << i << " is the same in both clones";
  }
  // Its machine-id is its own, not derived from its UUID (whose first
  // digits name its socket on the host).
  auto uuid = JsonField(W().Cli({"list", "--json"}).out, "tpl-a", "uuid");
  uuid.erase(std::remove(uuid.begin(), uuid.end(), '-'), uuid.end());
  EXPECT_EQ(uuid.size(), 32u);
  EXPECT_NE(prints[0][1], uuid);

  // A reset restores too: a new boot_id, the same name, machine-id and share.
  auto reset = W().Cli({"reset", "tpl-a", "--verbose"});
  ASSERT_EQ(reset.code, 0) << reset.err;
  EXPECT_NE(reset.err.find("tpl-a: restored from its image's template"), std::string::npos)
      << reset.err;
  auto after = Fingerprint("tpl-a");
  ASSERT_EQ(after.size(), 5u);
  EXPECT_NE(after[0], prints[0][0]);
  EXPECT_EQ(after[1], prints[0][1]);
  EXPECT_EQ(after[3], "tpl-a");
  EXPECT_EQ(after[4], "host file of tpl-a");
  for (const char* n : {"tpl-seed", "tpl-a", "tpl-b"}) W().Cli({"destroy", "--force", n});
}

TEST_F(Templates, AColdBootWhenAskedAndNeverATemplateOfAnImageRebuiltSince) {
  ASSERT_TRUE(WaitForTemplate("minimal", "1/512"));
  const std::string folder = W().NewFolder("tpl-cold");
  std::ofstream(folder + "/probe.txt") << "host file of tpl-cold\n";
  // Asked for: the kernel boots, and all is the same to the user.
  std::string err = Create("tpl-cold", folder, {"--cold-boot"});
  EXPECT_NE(err.find("tpl-cold: booted cold in"), std::string::npos) << err;
  EXPECT_NE(err.find("asked for a cold boot"), std::string::npos) << err;
  auto cold = Fingerprint("tpl-cold");
  ASSERT_EQ(cold.size(), 5u);
  EXPECT_EQ(cold[3], "tpl-cold");
  EXPECT_EQ(cold[4], "host file of tpl-cold");
  // The control: without it, the same create restores.
  err = Create("tpl-warm", folder);
  EXPECT_NE(err.find("tpl-warm: restored from its image's template"), std::string::npos) << err;

  // The image is rebuilt (its initramfs replaced: a new file, same bytes).
  const std::string initrd = W().state_dir() + "/images/minimal/initrd.img";
  ASSERT_TRUE(fs::exists(initrd));
  fs::copy_file(initrd, initrd + ".new");
  fs::rename(initrd + ".new", initrd);
  err = Create("tpl-stale", folder);
  EXPECT_NE(err.find("tpl-stale: booted cold in"), std::string::npos) << err;
  EXPECT_NE(err.find("is stale"), std::string::npos) << err;
  EXPECT_EQ(W().Cli({"exec", "tpl-stale", "--", "cat", "/workspace/probe.txt"}).out,
            "host file of tpl-cold\n");
  // A new one is built for the new files, and it alone is kept.
  ASSERT_TRUE(WaitForTemplate("minimal", "1/512"));
  err = Create("tpl-new", folder);
  EXPECT_NE(err.find("tpl-new: restored from its image's template"), std::string::npos) << err;
  auto shapes = ReadyTemplates("minimal");
  EXPECT_EQ(std::count(shapes.begin(), shapes.end(), "1/512"), 1) << W().Cli({"image", "list"}).out;
  for (const char* n : {"tpl-cold", "tpl-warm", "tpl-stale", "tpl-new"})
    W().Cli({"destroy", "--force", n});
}

}  // namespace
}  // namespace ws::test
