// `workspace shell` driven in a real terminal (tmux): prompt, commands,
// window resize, Ctrl-C, exit with the host terminal restored.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/integration/environment.h"

namespace ws::test {
namespace {

World& W() { return World::Get(); }

class Tmux {
 public:
  explicit Tmux(std::string socket) : socket_(std::move(socket)) {}
  ~Tmux() { Run({"tmux", "-L", socket_, "kill-server"}); }
  RunResult Do(std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-L", socket_});
    return Run(args);
  }
  std::string Screen() { return Do({"capture-pane", "-p", "-t", "s"}).out; }
  // True once `text` is on the screen (within ~20 s).
  bool WaitFor(const std::string& text) {
    for (int i = 0; i < 200; ++i) {
      if (Screen().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  std::string socket_;
};

TEST(Shell, InteractiveShellBehavesLikeALocalTerminal) {
  ASSERT_EQ(W().Cli({"create", "sh1"}).code, 0);
  Tmux tmux("wsit-" + std::to_string(getpid()));
  std::string cmd = "env WORKSPACE_STATE_DIR=" + W().state_dir() + " HOME=" + W().home() + " " +
                    W().bin() +
                    " shell sh1; echo SHELL-EXITED rc=$?; stty -a | tr ' ' '\\n' | "
                    "grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; sleep 60";
  ASSERT_EQ(tmux.Do({"new-session", "-d", "-s", "s", "-x", "100", "-y", "30", cmd}).code, 0);
  ASSERT_TRUE(tmux.WaitFor("/workspace $"))
      << tmux.Screen();  // capture-pane trims the trailing space

  tmux.Do({"send-keys", "-t", "s", "echo hello-$((40+2))", "Enter"});
  EXPECT_TRUE(tmux.WaitFor("hello-42")) << tmux.Screen();

  tmux.Do({"send-keys", "-t", "s", "stty size", "Enter"});
  EXPECT_TRUE(tmux.WaitFor("30 100")) << tmux.Screen();
  tmux.Do({"resize-window", "-t", "s", "-x", "120", "-y", "40"});
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  tmux.Do({"send-keys", "-t", "s", "clear; stty size", "Enter"});
  EXPECT_TRUE(tmux.WaitFor("40 120")) << tmux.Screen();

  tmux.Do({"send-keys", "-t", "s", "sleep 100; echo not-$((2+3))-interrupted", "Enter"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  tmux.Do({"send-keys", "-t", "s", "C-c"});
  tmux.Do({"send-keys", "-t", "s", "echo after-$((1+1))-int", "Enter"});
  EXPECT_TRUE(tmux.WaitFor("after-2-int")) << tmux.Screen();
  EXPECT_EQ(tmux.Screen().find("not-5-interrupted"), std::string::npos);

  // A denied connection during the session: nothing is written over the
  // program's screen while it runs; the notice comes once it has ended.
  tmux.Do({"send-keys", "-t", "s",
           "clear; printf 'CONNECT held.example:443 HTTP/1.1\\r\\n\\r\\n' | "
           "nc 127.0.0.1 3128 | head -c 12; echo; echo probe-$((3+4))",
           "Enter"});
  EXPECT_TRUE(tmux.WaitFor("probe-7")) << tmux.Screen();
  EXPECT_NE(tmux.Screen().find("HTTP/1.1 403"), std::string::npos)
      << "the connection was denied: " << tmux.Screen();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(tmux.Screen().find("held.example:443 denied"), std::string::npos) << tmux.Screen();
  auto denied = W().Cli({"audit", "sh1", "--denied"});
  EXPECT_NE(denied.out.find("held.example"), std::string::npos)
      << "listed as it happens: " << denied.out;
  EXPECT_EQ(denied.out.find(" allow "), std::string::npos) << denied.out;

  tmux.Do({"send-keys", "-t", "s", "exit", "Enter"});
  EXPECT_TRUE(tmux.WaitFor("SHELL-EXITED rc=0")) << tmux.Screen();
  EXPECT_TRUE(tmux.WaitFor("egress to held.example:443 denied"))
      << "told once it ended: " << tmux.Screen();
  EXPECT_TRUE(tmux.WaitFor("icanon echo")) << "terminal not restored: " << tmux.Screen();
  W().Cli({"destroy", "--force", "sh1"});
}

}  // namespace
}  // namespace ws::test
