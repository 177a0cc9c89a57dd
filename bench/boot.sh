#!/usr/bin/env bash
# Create -> first exec of the minimal image through the real CLI and daemon,
# next to a bare qemu-system-x86_64 booting the same kernel+initramfs to the
# agent (its init) saying it is ready on its port. Prints each run and the medians.
# usage: bench/boot.sh [RUNS]   (as root, after ./scripts/setup)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
ws=$PWD/build/bin/workspace
img=$PWD/build/images/minimal
state=$(mktemp -d /tmp/wsbench-XXXXXX)
export WORKSPACE_STATE_DIR=$state
trap '$ws list --json | grep -o "\"name\":\"[^\"]*\"" | cut -d\" -f4 | xargs -r -n1 $ws destroy --force >/dev/null 2>&1; kill $(cat $state/daemon.lock) 2>/dev/null; rm -rf $state' EXIT
accel=${WORKSPACE_ACCEL:-tcg}

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Warm up: start the daemon, probe QEMU once.
$ws create warmup >/dev/null && $ws destroy --force warmup >/dev/null

bare=() ours=()
for i in $(seq "$runs"); do
  t0=$(now)
  log=$state/bare.log
  : > "$log"
  qemu-system-x86_64 -machine q35,accel=$accel -m 512 -nographic -nodefaults -no-user-config \
    -serial "file:$log" -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
    -append "console=ttyS0 panic=-1 quiet workspace.name=bare" \
    -device virtio-serial-pci -chardev null,id=c0 \
    -device virtserialport,chardev=c0,name=org.workspace.agent.0 -device virtio-rng-pci &
  qpid=$!
  for _ in $(seq 6000); do grep -q "workspace-agent.*ready" "$log" && break; sleep 0.01; done
  t1=$(now)
  kill $qpid; wait $qpid 2>/dev/null || true
  bare+=("$(echo "$t1 - $t0" | bc)")

  t0=$(now)
  $ws create "b$i" >/dev/null
  $ws exec "b$i" -- true
  t1=$(now)
  ours+=("$(echo "$t1 - $t0" | bc)")
  $ws destroy --force "b$i" >/dev/null
  echo "run $i: bare qemu to init ${bare[-1]} s, create -> first exec ${ours[-1]} s"
done
mb=$(printf '%s\n' "${bare[@]}" | median)
mo=$(printf '%s\n' "${ours[@]}" | median)
echo "median: bare qemu to init $mb s; create -> first exec $mo s; ratio $(echo "scale=2; $mo / $mb" | bc)"
