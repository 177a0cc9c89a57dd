// ReadHostTree: walks a host path with the CLI user's own rights and emits it
// as TreeChunks (for `workspace cp` into a guest). Without follow_symlinks a
// symlink is sent as a link and never followed, so nothing outside the
// source can be read through one; with it (`cp -L`) links are dereferenced
// and directory loops refused.
#pragma once

#include <functional>
#include <string>

#include "host/common/status.h"
#include "workspace/v1/agent.pb.h"

namespace ws::cli {

using ChunkSink = std::function<bool(const workspace::v1::TreeChunk&)>;

// `emit` returns false to stop (the stream broke).
Status ReadHostTree(const std::string& path, bool follow_symlinks, const ChunkSink& emit);

}  // namespace ws::cli
