// The GitHub rule set against real git: this machine's git client, through
// a CONNECT proxy that hands each connection to the daemon's interception
// (DialIntercept, the code the egress relay runs), to the real `git
// http-backend` behind a TLS server on loopback with its own CA. A push the
// rules refuse leaves the bare repository byte for byte as it was, and the
// server receives no byte of it; the worm's API calls reach it not at all.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "host/github/github_http.h"
#include "host/net/intercept.h"
#include "tests/support/git_http_server.h"
#include "tests/support/http_server.h"
#include "tests/support/process.h"
#include "tests/support/tls_loopback.h"

namespace ws::test {
namespace {

namespace fs = std::filesystem;

// A guest's CONNECT proxy: each connection's bytes after "200" go to the
// interception with `plan`, as the egress relay does with a guest's tunnel.
class InterceptingProxy {
 public:
  InterceptingProxy(net::HostPlan plan, std::shared_ptr<net::WorkspaceCa> ca,
                    std::shared_ptr<net::InterceptTls> tls)
      : plan_(std::move(plan)), ca_(std::move(ca)), tls_(std::move(tls)) {
    fd_ = RecordingHttpServer::ListenLoopback();
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] {
      for (;;) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        std::lock_guard lock(mu_);
        conns_.emplace_back([this, c] { Serve(c); });
      }
    });
  }
  ~InterceptingProxy() {
    shutdown(fd_, SHUT_RDWR);
    accept_.join();
    std::lock_guard lock(mu_);
    for (auto& t : conns_) t.join();
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> Audit() {
    std::lock_guard lock(mu_);
    return audit_;
  }

 private:
  void Serve(int c) {
    std::string head;
    char ch;
    while (head.find("\r\n\r\n") == std::string::npos && recv(c, &ch, 1, 0) == 1) head += ch;
    const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    send(c, ok.data(), ok.size(), MSG_NOSIGNAL);
    SocketStream stream(c);
    net::AllowEntry entry{"localhost", plan_.port, "user"};
    net::Decision d = net::Decide({entry}, "localhost", plan_.port);
    net::Dialed dialed = net::DialIntercept(
        d, "localhost", plan_, ca_, tls_, 30, nullptr, [this](const net::InterceptedRequest& r) {
          std::string refs;
          for (const auto& x : r.outcome.refs) refs += " [" + x.substr(x.rfind(' ') + 1) + "]";
          std::lock_guard lock(mu_);
          audit_.push_back(std::string(r.outcome.refusal.status ? "deny " : "allow ") + r.method +
                           " " + r.path + " (" + r.outcome.rule + ")" + refs);
        });
    if (dialed.upstream) dialed.upstream->Handle(dialed.decision, stream);
  }
  net::HostPlan plan_;
  std::shared_ptr<net::WorkspaceCa> ca_;
  std::shared_ptr<net::InterceptTls> tls_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread accept_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<std::string> audit_;
};

class GithubRules : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/ws-github-XXXXXX";
    dir_ = mkdtemp(tmpl);
    upstream_ca_ = std::make_unique<TestCa>(dir_ + "/upstream");
    for (const char* repo : {"me/proj", "me/other"}) {
      ASSERT_EQ(MakeBareRepository(dir_ + "/root", repo), "");
    }
    server_ = std::make_unique<GitHttpServer>(*upstream_ca_, dir_ + "/root");
    auto ca = net::WorkspaceCa::Create({"localhost"}, "workspace t");
    ASSERT_TRUE(ca.ok()) << ca.status().message();
    ca_ = std::move(ca.value());
    std::ofstream(dir_ + "/ws-ca.pem") << ca_->CertPem();
    auto tls = net::InterceptTls::Make(upstream_ca_->ca_pem_path());
    ASSERT_TRUE(tls.ok()) << tls.status().message();
    rules_ = std::make_shared<github::GithubRules>();
    rules_->push.push_back(github::ParsePushRule("me/proj").value());
    rules_->api_writes.push_back(github::ParseApiWrite("POST /repos/me/proj/pulls").value());
    rules_->api_writes.push_back(github::ParseApiWrite("mutation createPullRequest").value());
    git_proxy_ =
        std::make_unique<InterceptingProxy>(Plan(net::HostClass::kGithubGit), ca_, tls.value());
    api_proxy_ =
        std::make_unique<InterceptingProxy>(Plan(net::HostClass::kGithubApi), ca_, tls.value());
  }
  void TearDown() override {
    git_proxy_.reset();
    api_proxy_.reset();
    server_.reset();
    fs::remove_all(dir_);
  }
  net::HostPlan Plan(net::HostClass c) {
    net::HostPlan p;
    p.host = "localhost";
    p.port = server_->port();
    p.host_class = c;
    p.github = rules_;
    return p;
  }
  RunResult Git(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    RunOptions o;
    o.env = {{"GIT_AUTHOR_NAME", "t"},     {"GIT_AUTHOR_EMAIL", "t@t"},
             {"GIT_COMMITTER_NAME", "t"},  {"GIT_COMMITTER_EMAIL", "t@t"},
             {"GIT_CONFIG_NOSYSTEM", "1"}, {"HOME", dir_},
             {"GIT_TERMINAL_PROMPT", "0"}};
    o.env.insert(env.begin(), env.end());
    o.timeout_seconds = 60;
    args.insert(args.begin(), "git");
    return ws::test::Run(args, o);
  }
  // git through the interception, as the guest's git would go.
  RunResult ViaHost(std::vector<std::string> args) {
    std::vector<std::string> full = {"-c", "http.proxy=" + git_proxy_->url()};
    full.insert(full.end(), args.begin(), args.end());
    // (Debian's git 2.39 takes the CA from the environment, not from -c.)
    return Git(full, {{"GIT_SSL_CAINFO", dir_ + "/ws-ca.pem"}});
  }
  std::string RepoUrl(const std::string& repo) {
    return "https://localhost:" + std::to_string(server_->port()) + "/" + repo + ".git";
  }
  // Every file of a bare repository, hashed with its path.
  std::string Checksum(const std::string& repo) {
    return ws::test::Run(
               {"sh", "-c",
                "cd " + dir_ + "/root/" + repo +
                    ".git && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum"})
        .out;
  }
  int ReceivePacks() {
    int n = 0;
    for (const auto& l : server_->Log()) n += l.find("git-receive-pack") != std::string::npos;
    return n;
  }

  std::string dir_;
  std::unique_ptr<TestCa> upstream_ca_;
  std::unique_ptr<GitHttpServer> server_;
  std::shared_ptr<net::WorkspaceCa> ca_;
  std::shared_ptr<github::GithubRules> rules_;
  std::unique_ptr<InterceptingProxy> git_proxy_, api_proxy_;
};

TEST_F(GithubRules, CloneAndPushAnAgentBranchWorkAndEveryOtherPushLeavesTheRepoAsItWas) {
  const std::string work = dir_ + "/work";
  auto clone = ViaHost({"clone", "-q", RepoUrl("me/proj"), work});
  ASSERT_EQ(clone.code, 0) << clone.err;
  ASSERT_TRUE(fs::exists(work + "/README"));
  std::ofstream(work + "/fix.txt") << "a fix\n";
  ASSERT_EQ(Git({"-C", work, "add", "fix.txt"}).code, 0);
  ASSERT_EQ(Git({"-C", work, "commit", "-qm", "fix"}).code, 0);
  const std::string head = Git({"-C", work, "rev-parse", "HEAD"}).out;

  // The control: the listed repository's agent/ branch takes the push.
  auto pushed = ViaHost({"-C", work, "push", "origin", "HEAD:agent/fix"});
  ASSERT_EQ(pushed.code, 0) << pushed.err;
  EXPECT_EQ(Git({"--git-dir", dir_ + "/root/me/proj.git", "rev-parse", "agent/fix"}).out, head);
  EXPECT_EQ(ReceivePacks(), 2) << "info/refs and the push";

  ASSERT_EQ(Git({"-C", work, "tag", "v1"}).code, 0);
  ASSERT_EQ(Git({"-C", work, "remote", "add", "other", RepoUrl("me/other")}).code, 0);
  struct Refused {
    std::vector<std::string> push;
    std::string says;  // in git's own error output
  };
  const std::vector<Refused> refused = {
      {{"origin", "HEAD:main"}, "refs/heads/main in me/proj is not allowed"},
      {{"origin", "HEAD:shai-hulud"}, "refs/heads/shai-hulud in me/proj is not allowed"},
      {{"origin", "v1"}, "refs/tags/v1 in me/proj is not allowed"},
      {{"origin", ":agent/fix"}, "deleting refs/heads/agent/fix"},
      {{"origin", "HEAD:agent/ok", "HEAD:main"}, "refused with the other refs of this push"},
      {{"other", "HEAD:agent/fix"}, "pushes to me/other are not allowed"},
  };
  for (const auto& r : refused) {
    const std::string proj = Checksum("me/proj"), other = Checksum("me/other");
    ASSERT_FALSE(proj.empty());
    const int packs = ReceivePacks();
    std::vector<std::string> args = {"-C", work, "push"};
    args.insert(args.end(), r.push.begin(), r.push.end());
    auto p = ViaHost(args);
    EXPECT_NE(p.code, 0) << r.push.back();
    EXPECT_NE(p.err.find(r.says), std::string::npos) << r.push.back() << ":\n" << p.err;
    EXPECT_NE(p.err.find("workspace"), std::string::npos) << p.err;
    EXPECT_EQ(Checksum("me/proj"), proj) << r.push.back();
    EXPECT_EQ(Checksum("me/other"), other) << r.push.back();
    // What reached the server: at most info/refs for the listed repository
    // (the ref advertisement), never a receive-pack POST.
    for (const auto& l : server_->Log()) {
      EXPECT_EQ(l.find("POST /me/other"), std::string::npos) << l;
    }
    int posts = 0;
    for (const auto& l : server_->Log())
      posts += l.rfind("POST ", 0) == 0 && l.find("receive") != std::string::npos;
    EXPECT_EQ(posts, 1) << "only the allowed push was ever posted";
    EXPECT_LE(ReceivePacks() - packs, 1) << r.push.back();
  }
  // The audit names the refs and the rule, allowed and refused alike.
  std::string audit;
  for (const auto& a : git_proxy_->Audit()) audit += a + "\n";
  EXPECT_NE(audit.find("allow POST /me/proj.git/git-receive-pack (github push "
                       "me/proj:refs/heads/agent/*) [refs/heads/agent/fix]"),
            std::string::npos)
      << audit;
  EXPECT_NE(audit.find("deny POST /me/proj.git/git-receive-pack (github push) [refs/heads/main]"),
            std::string::npos)
      << audit;
  EXPECT_NE(audit.find("deny GET /me/other.git/info/refs?service=- (github push)"),
            std::string::npos)
      << audit;
}

TEST_F(GithubRules, TheWormsApiCallsReachTheServerNotAtAll) {
  auto curl = [&](const std::vector<std::string>& args) {
    std::vector<std::string> full = {"curl",     "-sS",
                                     "-o",       "/dev/stderr",
                                     "-w",       "%{http_code}",
                                     "--proxy",  api_proxy_->url(),
                                     "--cacert", dir_ + "/ws-ca.pem"};
    full.insert(full.end(), args.begin(), args.end());
    RunOptions o;
    o.timeout_seconds = 30;
    return ws::test::Run(full, o);
  };
  const std::string api = "https://localhost:" + std::to_string(server_->port());
  // Controls: a read, a listed write and a listed mutation arrive.
  EXPECT_EQ(curl({api + "/repos/me/proj"}).out, "200");
  EXPECT_EQ(curl({"-H", "Content-Type: application/json", "-d", "{\"title\":\"t\"}",
                  api + "/repos/me/proj/pulls"})
                .out,
            "200");
  EXPECT_EQ(
      curl({"-H", "Content-Type: application/json", "-d",
            R"({"query":"mutation { createPullRequest(input: {}) { x } }"})", api + "/graphql"})
          .out,
      "200");
  ASSERT_EQ(server_->Log().size(), 3u);
  const uint64_t before = server_->BytesReceived();

  // Recorded shapes of the Shai-Hulud waves' calls.
  const std::vector<std::vector<std::string>> worm = {
      {"-d", R"({"name":"Shai-Hulud","private":false})", api + "/user/repos"},
      {"-X", "PATCH", "-d", R"({"private":false})", api + "/repos/me/proj"},
      {"-X", "PUT", "-d", R"({"message":"x","content":"c2VjcmV0cw=="})",
       api + "/repos/me/proj/contents/data.json"},
      {"-d", R"({"files":{"x.json":{"content":"secrets"}},"public":true})", api + "/gists"},
      {"-X", "POST", api + "/repos/me/proj/actions/runners/registration-token"},
      {"-d", R"({"ref":"main"})", api + "/repos/me/proj/actions/workflows/x.yml/dispatches"},
      {"-d",
       R"({"query":"mutation { createRepository(input: {name: \"s1ha1hulud\", visibility: PUBLIC}) { repository { url } } }"})",
       api + "/graphql"},
      {"-d",
       R"({"query":"mutation C($i: CreateCommitOnBranchInput!) { createCommitOnBranch(input: $i) { commit { url } } }","variables":{"i":{}}})",
       api + "/graphql"},
      {"-d",
       R"([{"query":"{ viewer { login } }"},{"query":"mutation { createRepository(input: {name: \"x\"}) { clientMutationId } }"}])",
       api + "/graphql"},
      {"-d",
       R"({"query":"mutation { pr: createPullRequest(input: {}) { x } repo: createRepository(input: {name: \"x\"}) { x } }"})",
       api + "/graphql"},
      {"-d",
       R"({"query":"mutation { ...F } fragment F on Mutation { createRepository(input: {name: \"x\"}) { x } }"})",
       api + "/graphql"},
  };
  for (auto call : worm) {
    call.insert(call.begin(), {"-H", "Content-Type: application/json"});
    auto r = curl(call);
    EXPECT_EQ(r.out, "403") << call.back() << ": " << r.err;
    EXPECT_NE(r.err.find("workspace: "), std::string::npos) << r.err;
  }
  EXPECT_EQ(server_->Log().size(), 3u) << "a worm call reached the server";
  EXPECT_EQ(server_->BytesReceived(), before) << "the server received bytes of a worm call";
}

}  // namespace
}  // namespace ws::test
