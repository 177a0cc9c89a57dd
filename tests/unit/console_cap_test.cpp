#include "host/controller/console_cap.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ws::controller {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct TempDir {
  TempDir() {
    char t[] = "/tmp/ws-console-cap-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

TEST(ConsoleCap, KeepsTheTailAndTheWriterAppendsFromTheNewStart) {
  TempDir dir;
  const std::string log = dir.path + "/console.log";
  // The writer holds it open O_APPEND, as QEMU does.
  int w = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  ASSERT_GE(w, 0);
  std::string data;
  for (int i = 0; i < 1000; ++i) data += "line " + std::to_string(i) + "\n";
  ASSERT_EQ(write(w, data.data(), data.size()), static_cast<ssize_t>(data.size()));

  ASSERT_TRUE(CapFile(log, 1 << 20).ok());
  EXPECT_EQ(fs::file_size(log), data.size()) << "within the bound: untouched";
  EXPECT_FALSE(fs::exists(log + ".1"));

  ASSERT_TRUE(CapFile(log, 100).ok());
  EXPECT_EQ(fs::file_size(log), 0u);
  EXPECT_EQ(Slurp(log + ".1"), data.substr(data.size() - 100)) << "the last 100 bytes kept";
  struct stat st {};
  ASSERT_EQ(stat((log + ".1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_EQ(write(w, "after\n", 6), 6);
  close(w);
  EXPECT_EQ(Slurp(log), "after\n") << "no hole: the writer appends at the new end";
}

TEST(ConsoleCap, NeverFollowsASymlink) {
  TempDir dir;
  const std::string target = dir.path + "/elsewhere";
  std::ofstream(target) << std::string(1000, 'x');
  fs::create_symlink(target, dir.path + "/console.log");
  EXPECT_FALSE(CapFile(dir.path + "/console.log", 10).ok());
  EXPECT_EQ(fs::file_size(target), 1000u) << "the symlink's target untouched";
  EXPECT_TRUE(CapFile(dir.path + "/absent.log", 10).ok()) << "an absent console is no error";
}

TEST(ConsoleCap, CutsEvenWhenNoCopyCanBeMade) {
  TempDir dir;
  const std::string log = dir.path + "/console.log";
  std::ofstream(log) << std::string(1000, 'x');
  fs::create_directory(log + ".1.tmp");  // the copy cannot be created (as on a full disk)
  auto s = CapFile(log, 100);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cut without a copy"), std::string::npos) << s.message();
  EXPECT_EQ(fs::file_size(log), 0u) << "the bound holds first";
}

}  // namespace
}  // namespace ws::controller
