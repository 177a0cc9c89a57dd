// TreeWriter against a hostile guest: crafted names and symlinks must never
// make the host write outside the destination.
#include "host/cli/tree_writer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace ws::cli {
namespace {

namespace fs = std::filesystem;
namespace v1 = workspace::v1;

v1::TreeEntry Dir(const std::string& path, uint32_t mode = 0755) {
  v1::TreeEntry e;
  e.set_path(path);
  e.set_type(v1::TreeEntry::TYPE_DIR);
  e.set_mode(mode);
  return e;
}
v1::TreeEntry File(const std::string& path, uint32_t mode = 0644) {
  v1::TreeEntry e = Dir(path, mode);
  e.set_type(v1::TreeEntry::TYPE_FILE);
  return e;
}
v1::TreeEntry Link(const std::string& path, const std::string& target) {
  v1::TreeEntry e = Dir(path, 0777);
  e.set_type(v1::TreeEntry::TYPE_SYMLINK);
  e.set_link_target(target);
  return e;
}

class TreeWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ws-tree-XXXXXX";
    base_ = mkdtemp(tmpl);
    fs::create_directories(base_ + "/dst");
    fs::create_directories(base_ + "/outside");
  }
  void TearDown() override { fs::remove_all(base_); }
  TreeWriter Writer() { return std::move(TreeWriter::Open(base_ + "/dst", "root").value()); }
  bool OutsideUntouched() { return fs::is_empty(base_ + "/outside"); }
  std::string base_;
};

TEST(SplitRelative, RefusesEverythingButPlainRelativePaths) {
  for (std::string bad :
       std::vector<std::string>{"/etc/passwd", "..", "../x", "a/../../x", "a//b", "a/./b", "./a",
                                "a/", std::string("a\0b", 3), std::string(300, 'n')}) {
    EXPECT_FALSE(SplitRelative(bad).ok()) << bad;
  }
  EXPECT_EQ(SplitRelative("a/b/c").value(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SplitRelative("").value().empty());
  EXPECT_TRUE(SplitRelative("...").ok()) << "three dots is an ordinary name";
}

TEST_F(TreeWriterTest, WritesATreeWithModesAndTimes) {
  auto w = Writer();
  ASSERT_TRUE(w.Entry(Dir("", 0750)).ok());
  auto f = File("f", 04755);  // set-id bits are dropped
  f.set_mtime_sec(1000000000);
  ASSERT_TRUE(w.Entry(f).ok());
  ASSERT_TRUE(w.Data("hello").ok());
  ASSERT_TRUE(w.Entry(Link("l", "/etc/passwd")).ok());
  ASSERT_TRUE(w.Finish().ok());
  struct stat st;
  ASSERT_EQ(stat((base_ + "/dst/root/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  ASSERT_EQ(stat((base_ + "/dst/root").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(fs::read_symlink(base_ + "/dst/root/l"), "/etc/passwd");
}

TEST_F(TreeWriterTest, DotDotAndAbsoluteNamesAreRefused) {
  auto w = Writer();
  ASSERT_TRUE(w.Entry(Dir("")).ok());
  EXPECT_FALSE(w.Entry(File("../escape")).ok());
  EXPECT_FALSE(w.Entry(File("../../outside/x")).ok());
  EXPECT_FALSE(w.Entry(File("/tmp/abs")).ok());
  EXPECT_FALSE(w.Entry(Dir("")).ok()) << "a second root";
  w.Finish();
  EXPECT_FALSE(fs::exists(base_ + "/dst/escape"));
  EXPECT_TRUE(OutsideUntouched());
}

TEST_F(TreeWriterTest, NeverWritesThroughASymlinkTheGuestSent) {
  auto w = Writer();
  ASSERT_TRUE(w.Entry(Dir("")).ok());
  ASSERT_TRUE(w.Entry(Link("evil", base_ + "/outside")).ok());
  EXPECT_FALSE(w.Entry(File("evil/planted")).ok());
  EXPECT_FALSE(w.Entry(Dir("evil/sub")).ok());
  // A file entry with the symlink's own name must not follow it either.
  EXPECT_FALSE(w.Data("x").ok()) << "no file is open after a refused entry";
  w.Finish();
  EXPECT_TRUE(OutsideUntouched());
}

TEST_F(TreeWriterTest, NeverWritesThroughASymlinkAlreadyOnTheHost) {
  fs::create_directories(base_ + "/dst/root");
  fs::create_symlink(base_ + "/outside", base_ + "/dst/root/d");
  std::ofstream(base_ + "/outside-file") << "keep";
  fs::create_symlink(base_ + "/outside-file", base_ + "/dst/root/f");
  auto w = Writer();
  ASSERT_TRUE(w.Entry(Dir("")).ok());
  EXPECT_FALSE(w.Entry(File("d/x")).ok());
  EXPECT_FALSE(w.Entry(Dir("d")).ok());
  EXPECT_FALSE(w.Entry(File("f")).ok());
  w.Finish();
  EXPECT_TRUE(OutsideUntouched());
  std::ifstream keep(base_ + "/outside-file");
  std::string s;
  keep >> s;
  EXPECT_EQ(s, "keep");
}

TEST_F(TreeWriterTest, EntriesBeforeTheRootOrUnderAFileAreRefused) {
  auto w = Writer();
  EXPECT_FALSE(w.Entry(File("a")).ok());
  ASSERT_TRUE(w.Entry(File("")).ok());
  EXPECT_FALSE(w.Entry(File("a")).ok()) << "the root is a file";
  v1::TreeEntry unknown = Dir("x");
  unknown.set_type(v1::TreeEntry::TYPE_UNSPECIFIED);
  EXPECT_FALSE(w.Entry(unknown).ok());
}

}  // namespace
}  // namespace ws::cli
