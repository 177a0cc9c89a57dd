// The daemon serves non-root users of the `workspace` group, each seeing and
// managing only their own workspaces; root sees all.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/integration/environment.h"

namespace ws::test {
namespace {

World& W() { return World::Get(); }

TEST(Access, GroupMemberManagesOnlyTheirOwnWorkspaces) {
  EnsureUser("wstest-member", true);
  ASSERT_EQ(W().Cli({"create", "roots"}).code, 0);
  auto create = W().CliAs("wstest-member", {"create", "mine", "--no-share"});
  ASSERT_EQ(create.code, 0) << create.err;
  auto exec = W().CliAs("wstest-member", {"exec", "mine", "--", "echo", "hi"});
  EXPECT_EQ(exec.out, "hi\n") << exec.err;

  auto list = W().CliAs("wstest-member", {"list", "--json"});
  EXPECT_NE(list.out.find("\"mine\""), std::string::npos);
  EXPECT_EQ(list.out.find("\"roots\""), std::string::npos) << "root's workspace is invisible";
  auto exec_other = W().CliAs("wstest-member", {"exec", "roots", "--", "true"});
  EXPECT_EQ(exec_other.code, 125);
  EXPECT_NE(exec_other.err.find("no workspace named 'roots'"), std::string::npos);
  EXPECT_EQ(W().CliAs("wstest-member", {"destroy", "--force", "roots"}).code, 1);
  EXPECT_EQ(W().CliAs("wstest-member", {"stop", "roots"}).code, 1);
  EXPECT_EQ(W().Cli({"exec", "roots", "--", "true"}).code, 0) << "root's workspace untouched";

  // Root sees everyone's, with the owner recorded from SO_PEERCRED.
  auto all = W().Cli({"list", "--json"});
  passwd* pw = getpwnam("wstest-member");
  ASSERT_NE(pw, nullptr);
  EXPECT_EQ(JsonField(all.out, "mine", "owner_uid"), std::to_string(pw->pw_uid));
  EXPECT_EQ(W().CliAs("wstest-member", {"destroy", "--force", "mine"}).code, 0);
  EXPECT_EQ(W().Cli({"destroy", "--force", "roots"}).code, 0);
}

TEST(Access, DerivedImagesAreTheirBuildersOwn) {
  EnsureUser("wstest-member", true);
  EnsureUser("wstest-other", true);
  ASSERT_EQ(W().Cli({"list"}).code, 0);  // a daemon is running
  auto build = W().CliAs("wstest-member", {"image", "build", "memberimg", "--from", "debian", "--no-default-allow",
                                            "--run", "echo member > /etc/built-by"});
  ASSERT_EQ(build.code, 0) << build.err;
  EXPECT_NE(W().CliAs("wstest-member", {"image", "list"}).out.find("memberimg"), std::string::npos);
  passwd* pw = getpwnam("wstest-member");
  ASSERT_NE(pw, nullptr);
  EXPECT_EQ(JsonField(W().Cli({"image", "list", "--json"}).out, "memberimg", "owner_uid"), std::to_string(pw->pw_uid));

  // Another member neither sees, uses, replaces nor removes it.
  EXPECT_EQ(W().CliAs("wstest-other", {"image", "list"}).out.find("memberimg"), std::string::npos);
  auto use = W().CliAs("wstest-other", {"create", "theirs", "--image", "memberimg", "--no-share"});
  EXPECT_EQ(use.code, 1);
  EXPECT_NE(use.err.find("image 'memberimg' is not installed"), std::string::npos) << use.err;
  auto replace = W().CliAs("wstest-other", {"image", "build", "memberimg", "--from", "debian", "--no-default-allow",
                                            "--run", "echo other > /etc/built-by"});
  EXPECT_EQ(replace.code, 1);
  EXPECT_NE(replace.err.find("belongs to another user"), std::string::npos) << replace.err;
  auto rebuild = W().CliAs("wstest-other", {"image", "build", "memberimg"});
  EXPECT_EQ(rebuild.code, 1) << "nor runs its recorded recipe";
  EXPECT_NE(rebuild.err.find("image 'memberimg' is not installed"), std::string::npos) << rebuild.err;
  auto rm = W().CliAs("wstest-other", {"image", "rm", "memberimg"});
  EXPECT_EQ(rm.code, 1);
  EXPECT_NE(rm.err.find("no image named 'memberimg'"), std::string::npos) << rm.err;
  auto rm_debian = W().CliAs("wstest-other", {"image", "rm", "debian"});
  EXPECT_EQ(rm_debian.code, 1);
  EXPECT_NE(rm_debian.err.find("only root may remove it"), std::string::npos) << rm_debian.err;
  // Nor the images everyone uses.
  auto shadow = W().CliAs("wstest-other", {"image", "build", "debian", "--from", "debian", "--run", "true"});
  EXPECT_EQ(shadow.code, 2) << shadow.err;

  // The builder's workspace from it runs what the builder's recipe made.
  ASSERT_EQ(W().CliAs("wstest-member", {"create", "fromimg", "--image", "memberimg", "--no-share"}).code, 0);
  EXPECT_EQ(W().CliAs("wstest-member", {"exec", "fromimg", "--", "cat", "/etc/built-by"}).out, "member\n");
  EXPECT_EQ(W().CliAs("wstest-member", {"destroy", "--force", "fromimg"}).code, 0);
  EXPECT_EQ(W().CliAs("wstest-member", {"image", "rm", "memberimg"}).code, 0);
}

// Issue #17's first repro: a --show name with newlines once added
// host=/owner_uid= lines to share.conf (the last one won) and gave guest
// reads and writes as host root in a root-only folder.
TEST(Access, AShowNameCannotInjectShareConfigLines) {
  EnsureUser("wstest-member", true);
  ASSERT_EQ(W().Cli({"list"}).code, 0);  // a daemon is running
  const std::string dir = "/tmp/wstest-inj";
  const std::string secret_dir = "/tmp/wstest-rootonly";
  ws::test::Run({"rm", "-rf", dir, secret_dir});
  ws::test::Run({"mkdir", "-p", dir, secret_dir});
  ws::test::Run({"chown", "wstest-member", dir});
  ws::test::Run({"chmod", "700", secret_dir});
  std::ofstream(secret_dir + "/secret") << "root only\n";
  auto inj = W().CliAs("wstest-member", {"create", "inj", "--share", dir + ":/p", "--show",
                                          "x\nhost=" + secret_dir + "\nowner_uid=0\nowner_gid=0"});
  EXPECT_EQ(inj.code, 2) << inj.err;
  EXPECT_NE(inj.err.find("--show takes a file name"), std::string::npos) << inj.err;
  EXPECT_EQ(W().CliAs("wstest-member", {"list"}).out.find("inj"), std::string::npos) << "nothing half-made";
  // The same share with a real name works, and reaches only the member's folder.
  ASSERT_EQ(W().CliAs("wstest-member", {"create", "inj", "--share", dir + ":/p", "--show", ".env"}).code, 0);
  std::ofstream(dir + "/visible") << "the member's file\n";
  auto r = W().CliAs("wstest-member", {"exec", "inj", "--", "sh", "-c", "cat /p/visible; cat /p/secret 2>&1"});
  EXPECT_NE(r.out.find("the member's file"), std::string::npos) << "the share is the member's folder: " << r.out;
  EXPECT_EQ(r.out.find("root only"), std::string::npos) << r.out;
  EXPECT_EQ(W().CliAs("wstest-member", {"destroy", "--force", "inj"}).code, 0);
  ws::test::Run({"rm", "-rf", dir, secret_dir});
}

// Issue #17's second repro: a member's read-only share of /etc once read
// /etc/shadow (virtiofsd reads as root). Guest root now reaches exactly what
// the member could: their own files, and others' by their "other" bits.
TEST(Access, AMemberShareReadsOnlyWhatTheMemberCould) {
  EnsureUser("wstest-member", true);
  ASSERT_EQ(W().Cli({"list"}).code, 0);  // a daemon is running
  const std::string mine = "/tmp/wstest-mine";
  ws::test::Run({"rm", "-rf", mine});
  ws::test::Run({"mkdir", "-p", mine});
  std::ofstream(mine + "/own-private") << "the member's own\n";
  std::ofstream(mine + "/roots-private") << "root's only\n";
  ws::test::Run({"chown", "wstest-member:", mine, mine + "/own-private"});
  ws::test::Run({"chmod", "600", mine + "/own-private", mine + "/roots-private"});
  auto create = W().CliAs("wstest-member", {"create", "ro", "--share", "/etc:/h:ro",
                                             "--share", mine + ":/m:ro"});
  ASSERT_EQ(create.code, 0) << create.err;
  auto shadow = W().CliAs("wstest-member", {"exec", "-u", "root", "ro", "--", "head", "-1", "/h/shadow"});
  EXPECT_NE(shadow.code, 0) << "guest root read /etc/shadow: " << shadow.out;
  EXPECT_EQ(shadow.out.find("root:"), std::string::npos) << shadow.out;
  EXPECT_NE(shadow.err.find("Permission denied"), std::string::npos) << shadow.err;
  // Positive controls: the same guest root reads what the member can.
  auto hostname = W().CliAs("wstest-member", {"exec", "-u", "root", "ro", "--", "cat", "/h/hostname"});
  EXPECT_EQ(hostname.code, 0) << hostname.err;
  EXPECT_FALSE(hostname.out.empty());
  auto own = W().CliAs("wstest-member", {"exec", "-u", "root", "ro", "--", "cat", "/m/own-private"});
  EXPECT_EQ(own.out, "the member's own\n") << own.err;
  auto roots = W().CliAs("wstest-member", {"exec", "-u", "root", "ro", "--", "cat", "/m/roots-private"});
  EXPECT_NE(roots.code, 0) << roots.out;
  EXPECT_EQ(roots.out.find("root's only"), std::string::npos);
  EXPECT_EQ(W().CliAs("wstest-member", {"destroy", "--force", "ro"}).code, 0);

  // Root's own read-only share keeps reading as root.
  ASSERT_EQ(W().Cli({"create", "rootro", "--share", mine + ":/m:ro"}).code, 0);
  EXPECT_EQ(W().Cli({"exec", "-u", "root", "rootro", "--", "cat", "/m/roots-private"}).out, "root's only\n");
  EXPECT_EQ(W().Cli({"destroy", "--force", "rootro"}).code, 0);

  // --share-dangerous is root's: a member cannot share / with it.
  auto dangerous = W().CliAs("wstest-member", {"create", "dz", "--share-dangerous", "--share", "/:/r:ro"});
  EXPECT_EQ(dangerous.code, 2) << dangerous.err;
  EXPECT_NE(dangerous.err.find("only root may"), std::string::npos) << dangerous.err;
  EXPECT_EQ(W().CliAs("wstest-member", {"list"}).out.find("dz"), std::string::npos) << "nothing half-made";
  ws::test::Run({"rm", "-rf", mine});
}

// Issue #17's third repro: a part of a share's path replaced by a symlink
// between create and start once shared the symlink's target.
TEST(Access, StartRefusesASharePathSwappedSinceCreate) {
  EnsureUser("wstest-member", true);
  ASSERT_EQ(W().Cli({"list"}).code, 0);  // a daemon is running
  const std::string top = "/tmp/wstest-swap", target = "/tmp/wstest-swap-target";
  ws::test::Run({"rm", "-rf", top, target});
  ws::test::Run({"mkdir", "-p", top + "/x/victim", target + "/victim"});
  ws::test::Run({"chown", "-R", "wstest-member", top});
  std::ofstream(top + "/x/victim/mine") << "member\n";
  std::ofstream(target + "/victim/secret") << "root only\n";
  ws::test::Run({"chmod", "700", target});
  ASSERT_EQ(W().CliAs("wstest-member", {"create", "sw", "--share", top + "/x/victim:/v"}).code, 0);
  EXPECT_EQ(W().CliAs("wstest-member", {"exec", "sw", "--", "cat", "/v/mine"}).out, "member\n");
  ASSERT_EQ(W().CliAs("wstest-member", {"stop", "sw"}).code, 0);
  // What the member can do from their shell: swap x for a symlink.
  ASSERT_EQ(ws::test::Run({"runuser", "-u", "wstest-member", "--", "sh", "-c",
                           "mv " + top + "/x " + top + "/x.real && ln -s " + target + " " + top + "/x"}).code, 0);
  auto start = W().CliAs("wstest-member", {"start", "sw"});
  EXPECT_EQ(start.code, 1) << start.out;
  EXPECT_NE(start.err.find(top + "/x/victim"), std::string::npos) << start.err;
  EXPECT_NE(start.err.find("symlink"), std::string::npos) << start.err;
  // Root's own start of it is refused the same way (the wrapper checks too).
  EXPECT_EQ(W().Cli({"start", "sw"}).code, 1);
  // A directory moved into the old place is not the one created with.
  ws::test::Run({"rm", top + "/x"});
  ws::test::Run({"runuser", "-u", "wstest-member", "--", "mkdir", "-p", top + "/x/victim"});
  auto other_dir = W().CliAs("wstest-member", {"start", "sw"});
  EXPECT_EQ(other_dir.code, 1);
  EXPECT_NE(other_dir.err.find("not the folder it was at create"), std::string::npos) << other_dir.err;
  // Positive control: the real folder put back, start works.
  ws::test::Run({"rm", "-rf", top + "/x"});
  ws::test::Run({"mv", top + "/x.real", top + "/x"});
  auto again = W().CliAs("wstest-member", {"start", "sw"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(W().CliAs("wstest-member", {"exec", "sw", "--", "cat", "/v/mine"}).out, "member\n");
  EXPECT_EQ(W().CliAs("wstest-member", {"destroy", "--force", "sw"}).code, 0);
  ws::test::Run({"rm", "-rf", top, target});
}

TEST(Access, UserOutsideTheGroupIsToldHowToGetIn) {
  EnsureUser("wstest-outsider", false);
  ASSERT_EQ(W().Cli({"list"}).code, 0);  // a daemon is running
  auto r = W().CliAs("wstest-outsider", {"list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("'workspace' group"), std::string::npos) << r.err;
  auto exec = W().CliAs("wstest-outsider", {"exec", "x", "--", "true"});
  EXPECT_EQ(exec.code, 125);
}

TEST(Access, NonRootWithoutADaemonIsToldHowToStartOne) {
  EnsureUser("wstest-member", true);
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = "/tmp/wsit-no-daemon-here";
  auto r = W().CliAs("wstest-member", {"list"}, o);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no workspace daemon is running"), std::string::npos) << r.err;
  EXPECT_EQ(W().CliAs("wstest-member", {"exec", "x", "--", "true"}, o).code, 125);
}

}  // namespace
}  // namespace ws::test
