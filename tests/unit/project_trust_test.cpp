#include "host/cli/project_trust.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ws::cli {
namespace {

namespace fs = std::filesystem;

// A project folder and a config folder of their own, XDG_CONFIG_HOME set to
// the latter for the test's length.
struct Folders {
  Folders() {
    char t[] = "/tmp/ws-trust-XXXXXX";
    root = mkdtemp(t);
    project = root + "/proj";
    fs::create_directories(project);
    setenv("XDG_CONFIG_HOME", (root + "/config").c_str(), 1);
  }
  ~Folders() {
    unsetenv("XDG_CONFIG_HOME");
    fs::remove_all(root);
  }
  void Write(const std::string& text) const { std::ofstream(project + "/.workspace.toml") << text; }
  std::string root, project;
};

ProjectText Read(const Folders& f) {
  auto t = ReadProjectText(f.project);
  EXPECT_TRUE(t.ok() && t->has_value());
  return t.ok() && t->has_value() ? **t : ProjectText{};
}

TEST(ProjectTrust, AFileIsTrustedByItsBytesAndPath) {
  Folders f;
  f.Write("cpus = 1\n");
  EXPECT_EQ(TrustOf(Read(f)), Trust::kNew);
  auto untrusted = LoadTrustedProjectFile(f.project, false, false);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.status().message().find("is not trusted"), std::string::npos);
  EXPECT_NE(untrusted.status().message().find("workspace trust"), std::string::npos);

  ASSERT_TRUE(RecordTrust(Read(f)).ok());
  EXPECT_EQ(TrustOf(Read(f)), Trust::kTrusted);
  auto trusted = LoadTrustedProjectFile(f.project, false, false);
  ASSERT_TRUE(trusted.ok()) << trusted.status().message();
  ASSERT_TRUE(trusted->has_value());
  EXPECT_EQ(*(*trusted)->cpus, 1u);
  struct stat st;
  ASSERT_EQ(stat((f.root + "/config/workspace/trusted").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  f.Write("cpus = 1\nnet = \"open\"\n");  // one byte more is another file
  EXPECT_EQ(TrustOf(Read(f)), Trust::kChanged);
  auto changed = LoadTrustedProjectFile(f.project, false, false);
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(changed.status().message().find("has changed since you trusted it"), std::string::npos);
  ASSERT_EQ(ListTrusted().size(), 1u);
  EXPECT_EQ(ListTrusted()[0].state, "changed");

  // The same bytes in another folder are not trusted there.
  ProjectText elsewhere = Read(f);
  elsewhere.path = f.root + "/other/.workspace.toml";
  EXPECT_EQ(TrustOf(elsewhere), Trust::kNew);

  // --trust trusts it as it is now.
  ASSERT_TRUE(LoadTrustedProjectFile(f.project, true, false).ok());
  EXPECT_EQ(TrustOf(Read(f)), Trust::kTrusted);
  EXPECT_EQ(ListTrusted()[0].state, "trusted");
  ASSERT_TRUE(ForgetTrust(Read(f).path).ok());
  EXPECT_EQ(TrustOf(Read(f)), Trust::kNew);
  EXPECT_EQ(ForgetTrust(Read(f).path).code(), Code::kNotFound);
}

TEST(ProjectTrust, OnlyARegularFileWithinTheBoundIsRead) {
  Folders f;
  EXPECT_FALSE(ReadProjectText(f.project)->has_value()) << "none";
  EXPECT_TRUE(LoadTrustedProjectFile(f.project, false, false).ok()) << "none is no error";
  std::ofstream(f.root + "/elsewhere.toml") << "cpus = 1\n";
  fs::create_symlink(f.root + "/elsewhere.toml", f.project + "/.workspace.toml");
  auto link = ReadProjectText(f.project);
  ASSERT_FALSE(link.ok());
  EXPECT_NE(link.status().message().find("is a symlink"), std::string::npos);
  fs::remove(f.project + "/.workspace.toml");
  ASSERT_EQ(mkfifo((f.project + "/.workspace.toml").c_str(), 0600), 0);
  EXPECT_FALSE(ReadProjectText(f.project).ok()) << "a FIFO: refused, and no hang";
  fs::remove(f.project + "/.workspace.toml");
  f.Write(std::string(kMaxProjectFileBytes + 1, '#'));
  EXPECT_FALSE(ReadProjectText(f.project).ok());
  f.Write(std::string(kMaxProjectFileBytes, '#'));
  EXPECT_TRUE(ReadProjectText(f.project).ok());
}

TEST(ProjectTrust, AFileThatDoesNotParseIsNeitherTrustedNorUsed) {
  Folders f;
  f.Write("cpus = \"many\"\n");
  auto r = LoadTrustedProjectFile(f.project, true, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cpus"), std::string::npos) << r.status().message();
  EXPECT_EQ(TrustOf(Read(f)), Trust::kNew);
}

TEST(ProjectTrust, PrintableShowsControlCharactersAsText) {
  EXPECT_EQ(Printable("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(Printable("a\nb\tc"), "a\\x0ab\\x09c");
  EXPECT_EQ(Printable("a\nb\tc", true), "a\nb\tc");
  EXPECT_EQ(Printable("\xc2\x9b"
                      "31m"),
            "\\xc2\\x9b31m")
      << "C1 CSI in UTF-8";
  EXPECT_EQ(Printable("caf\xc3\xa9 \x7f"), "caf\xc3\xa9 \\x7f");
}

}  // namespace
}  // namespace ws::cli
