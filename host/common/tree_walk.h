// WalkTree: emits a file tree as TreeChunks — an entry for the root, then
// depth first every entry below it, each regular file's bytes after its
// entry — for `workspace cp` in both directions (the CLI walks the host with
// its user's rights; the agent walks the guest). Without follow_symlinks a
// symlink is sent as a link and never followed, so nothing outside the root
// can be read through one; with it (`cp -L`) links are dereferenced and
// directory loops refused.
#pragma once

#include <functional>
#include <string>

#include "host/common/status.h"
#include "workspace/v1/tree.pb.h"

namespace ws {

using ChunkSink = std::function<bool(const workspace::v1::TreeChunk&)>;

// `emit` returns false to stop (the stream broke): kUnavailable. kNotFound
// when `path` does not exist.
Status WalkTree(const std::string& path, bool follow_symlinks, const ChunkSink& emit);

}  // namespace ws
