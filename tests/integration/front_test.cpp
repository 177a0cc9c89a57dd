// The front door as a new user meets it: plain `workspace` commands in the
// project folder with no NAME after create, env the docker way, names for
// scripts, several names at once, and help that says what to type.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/environment.h"

namespace ws::test {
namespace {

World& W() { return World::Get(); }

TEST(Front, InTheProjectFolderNoNameIsTypedAfterCreate) {
  const std::string dir = W().NewFolder("Front Proj");  // named "front-proj" from it
  std::filesystem::create_directories(dir + "/src/deep");
  RunOptions here;
  here.cwd = dir;
  ASSERT_EQ(W().Cli({"create"}, here).out, "front-proj\n");
  RunOptions deep = here;
  deep.cwd = dir + "/src/deep";  // upward, as git searches
  auto ran = W().Cli({"exec", "--", "sh", "-c", "hostname; pwd"}, deep);
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, "front-proj\n/workspace\n") << ran.err;
  EXPECT_NE(W().Cli({"inspect", "--json"}, here).out.find("\"name\":\"front-proj\""),
            std::string::npos);

  // Env the docker way: -e KEY from the caller (set and unset), --env-file, -e wins.
  std::ofstream(dir + "/../front.env") << "# a comment\nFROM_FILE=file value\nOVERRIDE=file\n";
  RunOptions env = here;
  env.env = {{"FROM_CALLER", "caller-value"}, {"PASSED", "p-1"}};
  auto e = W().Cli({"exec", "-e", "PASSED", "-e", "NOT_SET_HERE", "-e", "OVERRIDE=flag", "-e",
                    "FROM_CALLER", "--env-file", dir + "/../front.env", "--", "sh", "-c",
                    "echo \"$PASSED|$FROM_FILE|$OVERRIDE|$FROM_CALLER|${NOT_SET_HERE-unset}\""},
                   env);
  EXPECT_EQ(e.out, "p-1|file value|flag|caller-value|unset\n") << e.err;
  EXPECT_NE(e.err.find("NOT_SET_HERE is not set here"), std::string::npos) << e.err;
  auto bad = W().Cli({"exec", "-e", "=x", "--", "true"}, here);
  EXPECT_EQ(bad.code, 125) << "a bad -e is the CLI's failure";

  // Scripting: names only, allowlist and ports as JSON, NAME taken only when it is a workspace.
  EXPECT_NE(("\n" + W().Cli({"list", "-q"}).out).find("\nfront-proj\n"), std::string::npos);
  ASSERT_EQ(W().Cli({"allow", "api.example.com"}, here).code, 0);
  auto allow = W().Cli({"allow", "front-proj", "--list", "--json"});
  EXPECT_NE(allow.out.find("\"host\":\"api.example.com\""), std::string::npos)
      << allow.out << allow.err;
  EXPECT_EQ(allow.out.find("registry.npmjs.org"), std::string::npos)
      << "no registry host allowed directly";
  EXPECT_NE(W().Cli({"allow", "--list"}, here).out.find("api.example.com"), std::string::npos);
  auto port = W().Cli({"port", "--json", "--list"}, here);
  EXPECT_EQ(port.code, 0) << port.err;
  EXPECT_NE(port.out.find("{"), std::string::npos) << port.out;

  // A server left running: exec -d, published with port, listed by ps, ended by kill.
  ASSERT_EQ(W().Cli({"exec", "--", "sh", "-c",
                     "mkdir -p /tmp/www && echo detached-served > /tmp/www/index.html"},
                    here)
                .code,
            0);
  auto started = W().Cli(
      {"exec", "-d", "--", "sh", "-c", "echo server-starting; exec httpd -f -p 8080 -h /tmp/www"},
      here);
  ASSERT_EQ(started.code, 0) << started.err;
  const std::string id = started.out.substr(0, started.out.find('\n'));
  ASSERT_EQ(id.size(), 12u) << started.out;
  auto published = W().Cli({"port", "8080"}, here);
  ASSERT_EQ(published.code, 0) << published.err;
  const std::string host_port =
      published.out.substr(10, published.out.find(' ') - 10);  // "127.0.0.1:N -> ..."
  std::string body;
  for (int i = 0; i < 50 && body.empty(); ++i) {
    body =
        ws::test::Run({"curl", "-s", "--max-time", "5", "http://127.0.0.1:" + host_port + "/"}).out;
    if (body.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(body, "detached-served\n")
      << "served after exec -d returned (port " << host_port << ")";
  auto ps = W().Cli({"ps"}, here);
  EXPECT_NE(ps.out.find(id + "  running"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("httpd -f -p 8080"), std::string::npos) << ps.out;
  std::string logged;  // its output travels apart from the port's: allow it a moment
  for (int i = 0; i < 50 && logged.empty(); ++i) {
    logged = W().Cli({"logs", id}, here).out;
    if (logged.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(logged, "server-starting\n");
  ASSERT_EQ(W().Cli({"kill", id}, here).code, 0);
  std::string after = "x";
  for (int i = 0; i < 50 && !after.empty(); ++i) {
    after =
        ws::test::Run({"curl", "-s", "--max-time", "2", "http://127.0.0.1:" + host_port + "/"}).out;
    if (!after.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(after, "") << "still served after kill";
  EXPECT_NE(W().Cli({"ps", "--json"}, here).out.find("\"state\":\"killed\""), std::string::npos);
  EXPECT_EQ(W().Cli({"kill", "front-proj", "000000000000"}).code, 1) << "no such detached command";

  // Completion: parses in bash, and completes commands, flags and names.
  const std::string script = W().Cli({"completion", "bash"}).out;
  auto complete = [&](const std::string& words, int cword) {
    return ws::test::Run({"bash", "-c",
                          script + "\nCOMP_WORDS=(" + words + "); COMP_CWORD=" +
                              std::to_string(cword) + "; _workspace; echo \"${COMPREPLY[*]}\""},
                         [&] {
                           RunOptions o = here;
                           o.env["PATH"] = std::string(WS_BIN_DIR) + ":" + getenv("PATH");
                           o.env["WORKSPACE_STATE_DIR"] = W().state_dir();
                           return o;
                         }());
  };
  EXPECT_EQ(ws::test::Run({"bash", "-n", "-c", script}).code, 0);
  EXPECT_EQ(complete("workspace ex", 1).out, "exec\n");
  EXPECT_EQ(complete("workspace exec --env-f", 2).out, "--env-file\n");
  EXPECT_EQ(complete("workspace shell front-p", 2).out, "front-proj\n")
      << "names from workspace list -q";

  // Several names at once; another folder's workspace by name.
  ASSERT_EQ(W().Cli({"create", "front-two", "--no-share"}).code, 0);
  auto stop = W().Cli({"stop", "front-two", "front-proj"});
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_NE(W().Cli({"inspect", "--json"}, here).out.find("\"state\":\"stopped\""),
            std::string::npos);
  EXPECT_EQ(W().Cli({"start"}, here).code, 0);
  EXPECT_EQ(W().Cli({"exec", "--", "true"}, here).code, 0) << "started by its folder";

  // Help that says what to type.
  auto help = W().Cli({"help", "exec"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--env-file"), std::string::npos);
  auto typo = W().Cli({"lsit"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.err.find("did you mean list?"), std::string::npos) << typo.err;
  auto stray = W().Cli({"exec", "front-proj", "ls", "-la"});
  EXPECT_EQ(stray.code, 125);
  EXPECT_NE(stray.err.find("the command goes after --"), std::string::npos) << stray.err;
  auto ignored = W().Cli({"--accel", "tcg", "list", "-q"});
  EXPECT_EQ(ignored.code, 0);
  EXPECT_NE(ignored.err.find("--accel (WORKSPACE_ACCEL) has no effect: the daemon for"),
            std::string::npos)
      << "a flag that cannot take effect says so: " << ignored.err;
  std::ifstream man(std::string(WS_BUILD_DIR) + "/man/workspace.1");
  std::string page((std::istreambuf_iterator<char>(man)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("workspace exec"), std::string::npos)
      << "the man page is built with every command";
  RunOptions elsewhere;
  elsewhere.cwd = W().NewFolder("front-none");
  auto none = W().Cli({"exec", "--", "true"}, elsewhere);
  EXPECT_EQ(none.code, 125);
  EXPECT_NE(none.err.find("workspace create"), std::string::npos) << none.err;

  EXPECT_EQ(W().Cli({"destroy", "--force", "front-proj", "front-two"}).code, 0);
  EXPECT_EQ(W().Cli({"list", "-q"}).out.find("front-"), std::string::npos);
}

}  // namespace
}  // namespace ws::test
