// Writes one well-formed input per target into DIR/TARGET/seed, so each run
// starts from something the parser accepts: fuzz_seeds DIR
#include <filesystem>
#include <fstream>
#include <string>

#include "host/github/push_commands.h"
#include "host/shares/share_config.h"
#include "host/virt/metadata.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  auto put = [&](const std::string& target, const std::string& text,
                 const std::string& file = "seed") {
    std::filesystem::create_directories(dir + "/" + target);
    std::ofstream(dir + "/" + target + "/" + file) << text;
  };
  ws::shares::ShareConfig c;
  c.host_path = "/home/user/project";
  c.owner_uid = c.owner_gid = 1000;
  c.root_uid = c.root_gid = 998;
  c.shown = {".env"};
  c.dev = 2049;
  c.ino = 1234;
  put("share_config", ws::shares::RenderShareConfig(c));

  ws::virt::WorkspaceMeta m;
  m.owner_uid = 1000;
  m.image = "debian";
  m.created_at = "2026-12-03T00:00:00Z";
  m.accel = "tcg";
  m.cpus = 2;
  m.memory_mib = 2048;
  m.cpu_model = "max";
  m.agent_socket = "/var/lib/workspace/run/0123abcd4567.sock";
  m.console_log = "/var/lib/workspace/workspaces/p/console.log";
  m.disk = "/var/lib/workspace/workspaces/p/disk.qcow2";
  m.base = "/var/lib/workspace/images/debian/disk.qcow2";
  m.disk_gib = 8;
  m.shares.push_back({"ws0", "/home/u/p", "/workspace", false, 1000, 1000, {".env"}, 2049, 1234});
  m.allow.push_back({"registry.npmjs.org", 443, "npm"});
  m.allow.push_back({"*.debian.org", 0, "apt"});
  m.ports.push_back({8080, 80});
  put("metadata", ws::virt::RenderMetadata(m));

  put("allow_entry", "*.Example.org:8443");
  // A ClientHello naming "a.example" (TLS 1.2 record, one cipher suite).
  {
    std::string body = std::string("\x03\x03", 2) + std::string(32, 'r') + std::string("\x00", 1) +
                       std::string("\x00\x02\x13\x01", 4) + std::string("\x01\x00", 2);
    const std::string sni = std::string("\x00\x0c\x00\x00\x09", 5) + "a.example";
    const std::string ext = std::string("\x00\x00\x00", 3) + static_cast<char>(sni.size()) + sni;
    body += std::string(1, '\0') + static_cast<char>(ext.size()) + ext;
    const std::string hs = std::string("\x01\x00", 2) + static_cast<char>(body.size() >> 8) +
                           static_cast<char>(body.size() & 0xff) + body;
    put("client_hello", std::string("\x16\x03\x01", 3) + static_cast<char>(hs.size() >> 8) +
                            static_cast<char>(hs.size() & 0xff) + hs);
  }
  put("boot_params",
      "console=ttyS0 workspace.v=1 workspace.name=app workspace.net=allowlist "
      "workspace.root=/dev/vda "
      "workspace.git_name=Zo%C3%AB%20O%27Brien workspace.share=ws0:/workspace:rw");
  put("http_requests",
      "\x05GET /a?b=1 HTTP/1.1\r\nHost: h.test\r\n\r\n"
      "POST /u HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\n\r\nabc\r\n"
      "PUT /c HTTP/1.1\r\nHost: h.test:80\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\nGET /deny HTTP/1.0\r\n\r\n");
  put("http_requests",  // the server's side: the answers HttpResponseWatcher reads
      "\x03HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
      "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n",
      "answers");
  put("http_rules",
      "POST /v1/messages?x=1 HTTP/1.1\r\nHost: api.test\r\nx-api-key: "
      "wsph_0123456789abcdef0123456789abcdef\r\nContent-Length: 2\r\n\r\n{}"
      "GET / HTTP/1.1\r\nHost: api.test\r\nx-api-key: own\r\n\r\n");
  {
    const std::string a(40, 'a'), b(40, 'b');
    put("push_commands",
        ws::github::PktLine(a + " " + b + std::string(" refs/heads/agent/x\0report-status\n", 34)) +
            ws::github::PktLine(std::string(40, '0') + " " + b + " refs/tags/v1\n") + "0000PACK");
  }
  put("api_rules",
      "\x01[{\"query\":\"mutation M($i: X!) { a: createPullRequest(input: $i) { pullRequest { "
      "url } } ...F } fragment F on Mutation { __typename }\",\"variables\":{\"i\":{}}},"
      "{\"query\":\"{ viewer { login } }\"}]");
  put("api_rules", "\x00POST /repos/me/proj/pulls?x=1");
  put("names", "My Project_2");
  put("share_spec", "/home/u/p:/workspace:ro");
  put("guest_text",
      "packages/app/.claude/settings.json\n//registry.npmjs.org/:_authToken=x\n"
      "url = https://u:t@host/r.git\ncaf\xc3\xa9 \xe2\x80\xae");
  put("member_policy", "[members]\nallow_low_ports = true\nallow_private_hosts = false\n");
  put("project_file", R"(name = "demo"
image = "minimal"
cpus = 2
memory = 768
net = "allowlist"
allow = ["api.example.com", "*.corp.example:8443"]
default_allow = false
publish = ["3000", "8080:80"]
[[share]]
path = "."
guest = "/workspace"
[[share]]
path = "../data/"
guest = "/data"
read_only = true
[images.tools]
from = "debian"
run = ["apt-get install -y jq"]
)");
  return 0;
}
