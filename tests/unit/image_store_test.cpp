#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "host/controller/images.h"

namespace ws::controller {
namespace {

namespace fs = std::filesystem;

// A state dir's images/ with a fake disk image `debian` installed.
struct Store {
  std::string root;
  std::unique_ptr<ImageStore> store;
  Store() {
    char tmpl[] = "/tmp/ws-imgstore-XXXXXX";
    root = mkdtemp(tmpl);
    fs::create_directories(root + "/images/minimal");
    std::ofstream(root + "/images/minimal/image.env")
        << "name=minimal\nkernel=6.1\ncreated=2026-01-01T00:00:00Z\n";
    std::ofstream(root + "/images/minimal/vmlinuz") << "k";
    std::ofstream(root + "/images/minimal/initrd.img") << "i";
    fs::create_directories(root + "/images/.bases");
    std::ofstream(root + "/images/.bases/debian-1.qcow2") << "QFI";
    fs::create_directories(root + "/images/debian");
    std::ofstream(root + "/images/debian/image.env")
        << "name=debian\nboot=minimal\ndisk=rootfs.qcow2\nbase=debian-1.qcow2\ncpus=2\nmemory_mib="
           "2048\n"
           "disk_gib=20\ncreated=2026-01-01T00:00:00Z\n";
    store = std::make_unique<ImageStore>(root + "/images", std::vector<std::string>{},
                                         root + "/scripts");
  }
  ~Store() { fs::remove_all(root); }
  // Stages a derived disk and installs it as `name`.
  Status Install(const ImageRecipe& r) {
    const std::string dir = store->StagingDir(r.name);
    fs::create_directories(dir);
    std::ofstream(dir + "/rootfs.qcow2") << "QFI derived";
    auto parent = store->Resolve(r.from);
    if (!parent.ok()) return parent.status();
    Status s = store->InstallDerived(dir, r, parent.value(), 1234);
    fs::remove_all(dir);
    return s;
  }
};

TEST(ImageStore, DerivedImageRecordsItsRecipeExactly) {
  Store st;
  ImageRecipe r{"agents",
                "debian",
                {"echo 'a\\b'\nnpm i -g x", "\tpip install y  "},
                {"a.example:8443", "*.b.example"}};
  ASSERT_TRUE(st.Install(r).ok());
  auto img = st.store->Resolve("agents");
  ASSERT_TRUE(img.ok()) << img.status().message();
  EXPECT_EQ(img->from, "debian");
  EXPECT_EQ(img->from_created, "2026-01-01T00:00:00Z");
  EXPECT_EQ(img->run, r.run) << "backslashes, newlines and tabs survive the one-line image.env";
  EXPECT_EQ(img->allow, r.allow);
  EXPECT_EQ(img->owner_uid, 1234u);
  EXPECT_EQ(img->default_cpus, 2u);
  EXPECT_EQ(img->default_disk_gib, 20u);
  EXPECT_EQ(img->kernel, st.root + "/images/minimal/vmlinuz") << "boots with its parent's kernel";
  // The recipe cannot add keys of its own to image.env.
  EXPECT_EQ(img->base.find("\n"), std::string::npos);
}

TEST(ImageStore, ARebuildGetsANewBaseAndNeverReusesOne) {
  Store st;
  ImageRecipe r{"agents", "debian", {"true"}, {}};
  ASSERT_TRUE(st.Install(r).ok());
  const std::string first = st.store->Resolve("agents")->base;
  ASSERT_TRUE(st.Install(r).ok());  // within the same second: same build time
  const std::string second = st.store->Resolve("agents")->base;
  EXPECT_NE(first, second);
  EXPECT_TRUE(fs::exists(first)) << "kept until CollectBases finds it unused";
  st.store->CollectBases({first});
  EXPECT_TRUE(fs::exists(first));
  st.store->CollectBases({});
  EXPECT_FALSE(fs::exists(first));
  EXPECT_TRUE(fs::exists(second)) << "the installed image's base stays";
}

TEST(ImageStore, OneBuildOfANameAtATime) {
  Store st;
  ASSERT_TRUE(st.store->BeginBuild("x").ok());
  EXPECT_EQ(st.store->BeginBuild("x").code(), Code::kAlreadyExists);
  EXPECT_TRUE(st.store->BeginBuild("y").ok());
  st.store->EndBuild("x");
  EXPECT_TRUE(st.store->BeginBuild("x").ok());
}

TEST(ImageStore, ABrokenImageStillSaysWhoseItIs) {
  Store st;
  ASSERT_TRUE(st.Install({"agents", "debian", {"true"}, {}}).ok());
  fs::remove(st.store->Resolve("agents")->base);
  EXPECT_EQ(st.store->Resolve("agents").status().code(), Code::kNotFound)
      << "its base disk is gone";
  auto rec = st.store->Recorded("agents");
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  EXPECT_EQ(rec->owner_uid, 1234u);
  EXPECT_EQ(rec->from, "debian");
  EXPECT_EQ(st.store->Recorded("nosuch").status().code(), Code::kNotFound);
  EXPECT_EQ(st.store->Recorded("debian")->owner_uid, 0u) << "a script's image is root's";
}

TEST(ImageStore, ADerivedImageIsForItsOwnerToReadOnly) {
  Store st;
  ASSERT_TRUE(st.Install({"agents", "debian", {"true"}, {}}).ok());
  auto mode = [](const std::string& p) { return fs::status(p).permissions() & fs::perms::all; };
  EXPECT_EQ(mode(st.root + "/images/agents"), fs::perms::owner_all);
  EXPECT_EQ(mode(st.root + "/images/agents/image.env"),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(mode(st.store->Resolve("agents")->base), fs::perms::owner_read);
}

TEST(ImageStore, LeftoversOfAStoppedDaemonAreRemoved) {
  Store st;
  fs::create_directories(st.store->StagingDir("agents"));
  fs::create_directories(st.root + "/images/agents.importing");
  st.store->RemoveLeftovers();
  EXPECT_FALSE(fs::exists(st.store->StagingDir("agents")));
  EXPECT_FALSE(fs::exists(st.root + "/images/agents.importing"));
  EXPECT_TRUE(st.store->Resolve("debian").ok()) << "installed images stay";
}

TEST(ImageStore, NamesAndStepsAreChecked) {
  for (const char* bad : {"", "../x", ".hidden", "Up", "a/b", "a\nb", "-x", "agents.importing"}) {
    EXPECT_EQ(ValidateImageName(bad).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ValidateImageName("agents-2.x").ok());
  EXPECT_FALSE(ValidateRecipeSteps({}).ok());
  EXPECT_FALSE(ValidateRecipeSteps({""}).ok());
  EXPECT_FALSE(ValidateRecipeSteps({std::string(4097, 'a')}).ok());
  EXPECT_FALSE(ValidateRecipeSteps({"echo \x1b[2J"}).ok());
  EXPECT_FALSE(ValidateRecipeSteps(std::vector<std::string>(65, "true")).ok());
  EXPECT_TRUE(ValidateRecipeSteps({"a\n\tb", std::string(4096, 'a')}).ok());
}

}  // namespace
}  // namespace ws::controller
