#!/bin/sh
# container-init.sh — runs as PID 1 of a container's fresh mount, PID, UTS
# and IPC namespaces (started by `unshare --fork --propagation private`), so
# every mount made here is invisible to the host and vanishes with the
# namespace. It builds the container's root, then becomes the container's
# process (the pid the runtime records stays the same through the execs).
#
# No user data is ever interpreted as shell text: everything arrives as
# positional arguments and is only ever quoted, never evaluated.
#
#   $1 state dir  $2 overlay|copy  $3 image rootfs (lower)  $4 container rootfs
#   $5 hostname   $6 working dir to create (container path, symlink-free)
#   $7 host paths (one per line) whose mounts must stay: the tools still
#      exec'd after the host mounts are dropped, and their libraries
#   $8 N mounts, then N times: host-source dir|file|dev rw|ro container-target
#      (dev: a block device node, bound onto an empty file: a volumeDevice)
#   then: NAME=VALUE... /path/to/unshare --root=... --wd=... -- command args...
#         (handed to `env -i`, so the process starts with exactly that env)
#
# Exit 128 with <state>/setup-error when the container cannot be built.

set -u
state=$1 mode=$2 lower=$3 rootfs=$4 host=$5 wd=$6 keep=$7 nmounts=$8
shift 8

fail() {
  printf '%s\n' "$1" > "$state/setup-error"
  exit 128
}
# Runs a setup step; its output becomes the setup error. Through a file, not
# $(...): a subshell per step is a fork per step, and a start runs dozens.
run() {
  "$@" > "$state/setup.out" 2>&1 || fail "$*: $(cat "$state/setup.out")"
}

# Our host pid and start time, read through the host's /proc before it goes
# away; `read` is a builtin, so /proc/self is this very shell.
read -r self < /proc/self/stat
pid=${self%% *}
close_paren=') '
after_comm=${self##*"$close_paren"}
nth20() { shift 19; printf '%s' "$1"; }
# shellcheck disable=SC2086 # the stat fields are meant to split
starttime=$(nth20 $after_comm)

case $mode in
  overlay) run mount -t overlay overlay -o "lowerdir=$lower,upperdir=$state/upper,workdir=$state/work" "$rootfs" ;;
  copy) ;; # the runtime already made a private copy at $rootfs
  *) fail "unknown rootfs mode $mode" ;;
esac

for d in proc dev sys; do
  [ -L "$rootfs/$d" ] && fail "/$d in the image is a symbolic link"
done
run mkdir -p "$rootfs/proc" "$rootfs/dev" "$rootfs/sys"
run mount -t proc -o nosuid,nodev,noexec proc "$rootfs/proc"
run mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs "$rootfs/dev"
for d in null zero full random urandom tty; do
  [ -e "/dev/$d" ] || continue
  : > "$rootfs/dev/$d"
  run mount --bind "/dev/$d" "$rootfs/dev/$d"
done
mkdir -p "$rootfs/dev/pts" "$rootfs/dev/shm"
if mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$rootfs/dev/pts" 2>/dev/null; then
  ln -s pts/ptmx "$rootfs/dev/ptmx"
fi
mount -t tmpfs -o nosuid,nodev,mode=1777,size=65536k shm "$rootfs/dev/shm" 2>/dev/null || true
ln -s /proc/self/fd "$rootfs/dev/fd"
ln -s /proc/self/fd/0 "$rootfs/dev/stdin"
ln -s /proc/self/fd/1 "$rootfs/dev/stdout"
ln -s /proc/self/fd/2 "$rootfs/dev/stderr"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$rootfs/sys" 2>/dev/null || true

i=0
while [ "$i" -lt "$nmounts" ]; do
  src=$1 kind=$2 access=$3 dst=$rootfs$4
  shift 4
  case $kind in
    dir) run mkdir -p "$dst" ;;
    dev | file)
      [ "$kind" = file ] || [ -b "$src" ] || fail "$src is not a block device"
      run mkdir -p "${dst%/*}"
      [ -e "$dst" ] || run touch "$dst"
      ;;
    *) fail "unknown mount kind $kind" ;;
  esac
  run mount --rbind "$src" "$dst"
  [ "$access" = ro ] && run mount -o remount,bind,ro "$dst"
  i=$((i + 1))
done

run mkdir -p "$rootfs$wd"
# Through procfs (it names the writer's UTS namespace): no process to start.
printf '%s' "$host" 2>/dev/null > /proc/sys/kernel/hostname || run hostname "$host"

# Let go of every host mount this namespace copied (other pods' volumes,
# loop-device filesystems...): holding them would keep them busy for the
# host. Kept: /, the rootfs and what is under it, and every mount on the
# way to the rootfs or to a path in $keep. One `umount` for all of them, and
# no subshell per mount: a start used to spend most of its time here.
leads_to_kept() {
  case "$rootfs/" in "$1"/*) return 0 ;; esac
  saved_ifs=$IFS
  IFS='
'
  set -f
  # shellcheck disable=SC2086 # split on newlines only, no globbing
  set -- "$1" $keep
  set +f
  IFS=$saved_ifs
  mp_slash=$1/
  shift
  for k in "$@"; do
    case "$k/" in "$mp_slash"*) return 0 ;; esac
  done
  return 1
}
cut -d ' ' -f 5 /proc/self/mountinfo | sort -r | {
  set --
  while read -r raw; do
    case $raw in
      *\\*) mp=$(printf '%b' "$raw") ;; # octal escapes (\040 for a space...)
      *) mp=$raw ;;
    esac
    case $mp in
      / | "$rootfs" | "$rootfs"/*) continue ;;
    esac
    leads_to_kept "$mp" && continue
    set -- "$@" "$mp"
  done
  # Children come before their parents (sort -r); a child already gone with
  # its parent only makes umount complain.
  [ "$#" -eq 0 ] || umount -l -- "$@" 2>/dev/null || true
}

# Only now is the container complete: an exec may enter it from here on.
printf '%s %s\n' "$pid" "$starttime" > "$state/started.tmp" && mv "$state/started.tmp" "$state/started" ||
  fail "cannot record the container pid"

# Also undo the SIGINT/SIGQUIT ignore a background job inherits from sh.
exec env -i --default-signal -- "$@"
