// Workspaces' decoys and alerts (issue #23): a fresh set of decoy
// credentials per workspace at create (STATE/workspaces/NAME/decoys.json,
// 0600: known only to the host), planted in the guest user's home and
// variables at each boot (GuestAgent::Configure), read for by the egress
// relay; alerts in STATE/workspaces/NAME/alerts.log (tripwire/alerts.h).
#include <chrono>

#include "host/common/atomic_file.h"
#include "host/common/log.h"
#include "host/controller/workspaces.h"
#include "host/controller/workspaces_internal.h"

namespace ws::controller {

using namespace internal;
using namespace std::chrono_literals;

std::string Workspaces::DecoysPath(const std::string& name) const {
  return layout_.WorkspaceDir(name) + "/decoys.json";
}

Status Workspaces::WriteDecoys(const std::string& name) {
  auto decoys = tripwire::MakeDecoys();
  if (!decoys.ok()) return decoys.status();
  return WritePrivateFile(DecoysPath(name), tripwire::DecoysToJson(decoys.value()));
}

bool Workspaces::HasDecoys(const std::string& name) const {
  return !ReadFileOrEmpty(DecoysPath(name)).empty();
}

uint64_t Workspaces::UnseenAlerts(const std::string& name) const {
  return tripwire::AlertLog(layout_.WorkspaceDir(name)).Unseen();
}

void Workspaces::ArmTripwire(const std::string& name, guest::GuestSettings* settings) {
  const std::string text = ReadFileOrEmpty(DecoysPath(name));
  std::shared_ptr<tripwire::Tripwire> armed;
  if (!text.empty()) {
    auto decoys = tripwire::DecoysFromJson(text);
    if (!decoys.ok()) {
      Log("workspace '" + name + "': no decoys: " + decoys.status().message());
    } else {
      for (const auto& f : tripwire::DecoyFiles(decoys.value())) {
        settings->home_files.push_back({f.path, f.content, static_cast<unsigned>(f.mode)});
      }
      // A variable the workspace's secrets set is theirs, not a decoy's.
      for (const auto& kv : tripwire::DecoyEnv(decoys.value())) {
        const std::string key = kv.substr(0, kv.find('=') + 1);
        bool taken = false;
        for (const auto& e : settings->env) taken = taken || e.rfind(key, 0) == 0;
        if (!taken) settings->env.insert(settings->env.begin(), kv);
      }
      armed = std::make_shared<tripwire::Tripwire>(
          std::move(decoys.value()),
          std::make_shared<tripwire::AlertLog>(layout_.WorkspaceDir(name)),
          [this, name](const std::string& exec_id, const std::string& line) {
            auto agent = agents_.Get(name, 2s);
            if (agent.ok()) (void)agent.value()->Notify(exec_id, line, 2s);
          });
    }
  }
  {
    MutexLock lock(tripwires_mu_);
    tripwires_[name] = armed;
  }
  net_.SetTripwire(name, std::move(armed));
}

std::shared_ptr<tripwire::Tripwire> Workspaces::TripwireFor(const std::string& name) {
  MutexLock lock(tripwires_mu_);
  auto it = tripwires_.find(name);
  return it == tripwires_.end() ? nullptr : it->second;
}

Result<Workspaces::AlertsView> Workspaces::Alerts(const Caller& c, const std::string& name,
                                                  bool mark_seen) {
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  tripwire::AlertLog log(layout_.WorkspaceDir(name));
  auto contents = log.Read();
  if (!contents.ok()) return contents.status();
  AlertsView view;
  view.decoys = HasDecoys(name);
  view.alerts = std::move(contents->alerts);
  view.seen = contents->seen;
  view.dropped = contents->dropped;
  if (mark_seen && view.seen < view.alerts.size()) {
    if (Status s = log.MarkSeen(view.alerts.size()); !s.ok()) return s;
  }
  return view;
}

}  // namespace ws::controller
