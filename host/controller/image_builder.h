// Derived images: `workspace image build NAME --from PARENT --run CMD...`
// boots a throwaway workspace from PARENT (no shares, the build's
// allowlist), runs each step in it as root, powers it off and turns its
// disk (overlay and parent flattened into one qcow2) into the read-only
// base of image NAME. A workspace made from NAME, and every reset of it,
// starts from that disk. A base in use is never replaced: a rebuild gets a
// new one, and the old one goes when its last workspace does.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/controller/caller.h"
#include "host/controller/images.h"
#include "host/controller/workspaces.h"
#include "host/net/policy.h"

namespace ws::controller {

struct DerivedBuild {
  ImageRecipe recipe;
  // The build workspace's whole allowlist: the defaults the CLI found plus
  // the recipe's own entries.
  std::vector<net::AllowEntry> allow;
};

// Builds and installs b.recipe.name for caller `c`, who owns the image.
// Progress lines (steps, and the steps' output cleaned to printable text)
// go to on_line. `cancelled` is polled; once it says true the build stops.
// Whatever happens, the build workspace is gone afterwards and an image of
// that name that existed before is unchanged unless the build succeeded.
Result<Image> BuildDerivedImage(Workspaces& workspaces, const Caller& c, const DerivedBuild& b,
                                const std::function<void(const std::string&)>& on_line,
                                const std::function<bool()>& cancelled);

// How long one step may run before it is killed.
inline constexpr std::chrono::seconds kStepTimeout{3600};

}  // namespace ws::controller
