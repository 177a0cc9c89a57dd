#include "host/controller/unfetched_commits.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/common/printable.h"
#include "host/common/unique_fd.h"

namespace ws::controller {
namespace {

using namespace std::chrono_literals;

// Run in the guest as root, each share's guest path an argument: for each,
// the commits on the guest's branches that no ref of the host's .git
// (read-only at /run/workspace/host-git/PATH, refs/workspace/* included)
// reaches.
constexpr char kScript[] = R"SH(for p in "$@"; do
  g=/run/workspace/guest-git$p; h=/run/workspace/host-git$p
  [ -d "$g" ] && [ -d "$h" ] || continue
  not=$(git --git-dir="$h" for-each-ref --format='^%(objectname)')
  n=$(printf '%s\n' $not | GIT_DIR=$g git rev-list --count --branches --stdin) || continue
  echo "C $p $n"
  [ "$n" = 0 ] || printf '%s\n' $not | GIT_DIR=$g git log --stdin --branches -n 5 --format="L $p %h %s"
done
)SH";

constexpr size_t kMaxAnswer = 64 << 10;
constexpr auto kAskTimeout = 10s;
constexpr size_t kMaxSubject = 72;

std::string Cut(std::string s, size_t n) {
  s = Printable(s);
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

}  // namespace

std::vector<std::string> GuestGitPaths(const virt::WorkspaceMeta& meta) {
  std::vector<std::string> out;
  if (meta.disk.empty()) return out;
  for (const auto& sh : meta.shares) {
    std::error_code ec;
    if (!sh.read_only && std::filesystem::is_directory(sh.host_path + "/.git", ec))
      out.push_back(sh.guest_path);
  }
  return out;
}

Unfetched ParseAnswer(const std::string& out) {
  Unfetched u;
  std::istringstream in(out.substr(0, kMaxAnswer));
  std::string line;
  while (std::getline(in, line)) {
    if (line == "U") {
      u.unknown = true;
    } else if (line.rfind("C ", 0) == 0) {
      const auto sp = line.rfind(' ');
      const std::string n = line.substr(sp + 1);
      if (sp >= 1 && !n.empty() && n.size() < 10 &&
          n.find_first_not_of("0123456789") == std::string::npos) {
        u.count += std::stoull(n);
      }
    } else if (line.rfind("L ", 0) == 0 && u.commits.size() < kShownCommits) {
      u.commits.push_back(Cut(line.substr(2), kMaxSubject + 80));
    }
  }
  if (u.count < u.commits.size()) u.count = u.commits.size();
  return u;
}

Result<Unfetched> AskGuest(guest::GuestAgent& agent, const std::vector<std::string>& guest_paths) {
  if (guest_paths.empty()) return Unfetched{};
  guest::RunSpec spec;
  spec.argv = {"sh", "-c", kScript, "sh"};
  spec.argv.insert(spec.argv.end(), guest_paths.begin(), guest_paths.end());
  spec.user = "root";
  spec.timeout = kAskTimeout;
  std::string out;
  // The guest keeps the timeout, if it will: the host's own deadline ends
  // the call whatever the guest does (stop and reset wait on it).
  const auto deadline = std::chrono::steady_clock::now() + kAskTimeout + 2s;
  auto r = agent.Run(
      spec,
      [&](std::string_view d) {
        if (out.size() < kMaxAnswer) out.append(d.substr(0, kMaxAnswer - out.size()));
      },
      [&] { return std::chrono::steady_clock::now() > deadline; });
  if (!r.ok()) return r.status();
  return ParseAnswer(out);
}

Status Record(const std::string& path, const Unfetched& u) {
  std::string text = u.unknown ? "U\n" : "";
  text += "C " + std::to_string(u.count) + "\n";
  for (const auto& c : u.commits) text += "L " + c + "\n";
  const std::string tmp = path + ".new";
  unique_fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus("writing " + tmp, errno);
  if (!WriteAll(fd.get(), text.data(), text.size()) || fsync(fd.get()) != 0) {
    return ErrnoStatus("writing " + tmp, errno);
  }
  if (close(fd.release()) != 0) return ErrnoStatus("writing " + tmp, errno);
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("writing " + path, errno);
  return Status::Ok();
}

Unfetched ReadRecord(const std::string& path) {
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  return ParseAnswer(text.str());
}

Status RefuseLosing(const std::string& name, const std::string& verb, const Unfetched& u) {
  if (u.unknown) {
    return {Code::kFailedPrecondition, "'" + name +
                                           "' was not asked when it stopped (it stopped without "
                                           "`workspace stop`, or did not answer "
                                           "then), so whether its git directory holds commits the "
                                           "host has not fetched is not known; start it "
                                           "and take them (workspace start " +
                                           name + "; workspace git fetch " + name +
                                           "), or throw whatever it holds away: workspace " + verb +
                                           " --force " + name};
  }
  std::string list;
  for (const auto& c : u.commits) list += (list.empty() ? "" : "; ") + c;
  if (u.count > u.commits.size())
    list += "; and " + std::to_string(u.count - u.commits.size()) + " more";
  return {Code::kFailedPrecondition,
          "'" + name + "' has " + std::to_string(u.count) + " commit" + (u.count == 1 ? "" : "s") +
              " the host has not fetched (" + list + "); take them with: workspace git fetch " +
              name + " (or throw them away: workspace " + verb + " --force " + name + ")"};
}

}  // namespace ws::controller
