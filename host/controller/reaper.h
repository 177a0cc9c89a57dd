// The daemon's parent, a reaper (as tini or docker-init are for containers).
//
// libvirt starts QEMU and virtiofsd daemonized: their parent exits and they
// are re-parented to the nearest "child subreaper", else to PID 1. libvirt
// stops them by polling kill(pid, 0) every 200 ms until the process is
// gone, and a zombie is not gone until its parent reaps it. Under an init
// that reaps late (a container's or a sandbox's PID 1: ~1.2 s measured here)
// or never (the daemon as PID 1 of a container), every stop and reset
// waited that long, or failed after 15 s. The reaper is the daemon's parent
// and a subreaper: the processes libvirt daemonizes become its children and
// are reaped the moment they exit. It reaps nothing of the daemon's own
// children (those are the daemon's to wait for).
#pragma once

namespace ws::controller {

// Forks. In the child (the daemon) it returns; the parent becomes the
// reaper: it passes SIGTERM, SIGINT and SIGHUP on to the daemon, reaps every
// process re-parented to it, and exits as the daemon exits (with its code,
// or by its signal). If the reaper is killed, so is the daemon (running
// workspaces keep running). Call before any thread exists.
void RunUnderReaper();

}  // namespace ws::controller
