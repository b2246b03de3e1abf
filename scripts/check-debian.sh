#!/usr/bin/env bash
# Checks the README's set-up on fresh Debian systems: for each release it builds a minimal chroot
# with debootstrap (--variant=minbase, what debian:<release>-slim images hold), clones the
# repository's HEAD into it, runs the Dockerfile's steps there (its ENV, WORKDIR, COPY and RUN
# lines; FROM is replaced by the release), then a smoke check in a new shell after the README's
# activation line. The Dockerfile is thus the one recipe: a container build and this check run the
# same commands, and this check also covers Debian 12, which the Dockerfile does not use.
#
#   sudo scripts/check-debian.sh [--dir DIR] [--keep] [--ca-file FILE] [--mirror URL] RELEASE...
#   scripts/check-debian.sh --dry-run [--dockerfile FILE] RELEASE...
#
#   RELEASE      bookworm (Debian 12) or trixie (Debian 13)
#   --dir DIR    where the chroots go (default /var/tmp/tinykd-check); DIR/RELEASE is created and,
#                unless --keep, removed at the end. An existing DIR/RELEASE is replaced only if this
#                script made it (it holds .tinykd-check), else refused.
#   --ca-file F  an extra CA certificate the chroot trusts (a network behind a TLS-inspecting proxy)
#   --mirror URL the Debian mirror (default http://deb.debian.org/debian)
#   --dry-run    print the steps that would run and stop (no root needed, nothing created)
#   --dockerfile F  read F's steps instead of the committed Dockerfile (COPY still clones HEAD)
#
# Needs root, debootstrap and the network (Debian mirror, PyPI). Prints each phase's duration.
set -euo pipefail

usage() { sed -n '9,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=/var/tmp/tinykd-check
keep=0
ca_file=""
mirror=http://deb.debian.org/debian
dry_run=0
dockerfile=""
releases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
    --keep) keep=1; shift ;;
    --ca-file) ca_file=${2:?--ca-file needs a file}; shift 2 ;;
    --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --dockerfile) dockerfile=${2:?--dockerfile needs a file}; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "check-debian: unknown option $1; expected --dir, --keep, --ca-file, --mirror, --dry-run, --dockerfile" >&2; exit 2 ;;
    bookworm|trixie) releases+=("$1"); shift ;;
    *) echo "check-debian: release $1 is not checked; expected bookworm or trixie" >&2; exit 2 ;;
  esac
done
[ ${#releases[@]} -gt 0 ] || usage
[ -z "$ca_file" ] || [ -f "$ca_file" ] || { echo "check-debian: --ca-file $ca_file is not a file" >&2; exit 2; }
if [ -n "$dockerfile" ]; then
  [ -f "$dockerfile" ] || { echo "check-debian: --dockerfile $dockerfile is not a file" >&2; exit 2; }
  recipe=$(cat "$dockerfile")
else
  recipe=$(git -C "$repo" show HEAD:Dockerfile 2>/dev/null) || {
    echo "check-debian: $repo has no committed Dockerfile (the check clones HEAD)" >&2; exit 1; }
fi

# The smoke check: the commands the README shows after `. .venv/bin/activate`, in a new shell, and
# fast tests that need the installed toolchain (firmware build) and QEMU's board (a boot and HELLO).
SMOKE='. .venv/bin/activate
tinykd --version
tinykd params check params.yaml
dvc --version
snakemake --version
arm-none-eabi-gcc --version | head -1
qemu-system-arm --version | head -1
python -m pytest -q -p no:cacheprovider tests/test_cli.py tests/test_params.py \
  tests/test_firmware_build.py::test_build_reports_memory_and_is_reproducible \
  tests/test_device_qemu.py::test_hello_describes_the_model'

now() { date +%s; }
phase() { printf '\n=== %s: %s\n' "$release" "$*"; }
took() { printf '=== %s: %s took %d s\n' "$release" "$1" "$(( $(now) - $2 ))"; }

mounted=()
unmount_all() {
  local m
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do
    m=${mounted[$i]}
    umount -R "$m" 2>/dev/null || umount -lR "$m" 2>/dev/null || true
  done
  mounted=()
}
trap unmount_all EXIT

# Runs a shell command inside the chroot with a clean environment (as a container's RUN: root,
# HOME=/root, the default PATH) plus the Dockerfile's ENV lines, in its WORKDIR.
in_chroot() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" \
    /bin/sh -c "cd '$workdir' && $1"
}

# The Dockerfile's instructions, continuation lines joined: "KEYWORD rest".
instructions() {
  sed -e 's/\r$//' "${1:-/dev/stdin}" | awk '
    /^[[:space:]]*#/ && cont == "" { next }
    { line = cont $0 }
    /\\$/ { sub(/\\$/, "", line); cont = line " "; next }
    { cont = ""; if (line ~ /[^[:space:]]/) print line }'
}

# The recipe's steps, checked before anything is built: only what a chroot can replay.
steps=()
while IFS= read -r line; do
  key=${line%%[[:space:]]*}
  rest=${line#"$key"}; rest=${rest#"${rest%%[![:space:]]*}"}
  key=${key^^}
  case $key in
    FROM|CMD) continue ;;
    ENV) for kv in $rest; do
           [[ $kv == *=* ]] || { echo "check-debian: Dockerfile ENV $kv: only the KEY=value form is read" >&2; exit 1; }
         done ;;
    WORKDIR) [[ $rest == /* ]] || { echo "check-debian: Dockerfile WORKDIR $rest: expected an absolute path" >&2; exit 1; } ;;
    COPY) [ "$rest" = ". ." ] || { echo "check-debian: Dockerfile COPY $rest: only 'COPY . .' is read" >&2; exit 1; } ;;
    RUN) ;;
    *) echo "check-debian: Dockerfile instruction $key is not read by this check; expected FROM, ENV, WORKDIR, COPY, RUN, CMD" >&2
       exit 1 ;;
  esac
  steps+=("$key $rest")
done < <(instructions <<< "$recipe")

if [ "$dry_run" = 1 ]; then
  for release in "${releases[@]}"; do
    echo "# $release: debootstrap --variant=minbase $release DIR $mirror, then in the chroot:"
    printf '%s\n' "${steps[@]}"
    printf 'SMOKE %s\n' "$SMOKE"
  done
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "check-debian: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "check-debian: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

status=0
for release in "${releases[@]}"; do
  root="$dir/$release"
  start=$(now)
  if [ -e "$root" ]; then
    [ -f "$root/.tinykd-check" ] || {
      echo "check-debian: $root exists and was not made by this script; remove it or pass another --dir" >&2; exit 1; }
    phase "removing the previous check's chroot $root"
    rm -rf --one-file-system "$root"
  fi
  mkdir -p "$root"
  touch "$root/.tinykd-check"

  phase "debootstrap --variant=minbase $release"
  t=$(now)
  debootstrap --variant=minbase "$release" "$root" "$mirror" > "$dir/$release-debootstrap.log" 2>&1 || {
    echo "check-debian: debootstrap $release failed; see $dir/$release-debootstrap.log" >&2; exit 1; }
  took debootstrap "$t"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  if [ -n "$ca_file" ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp "$ca_file" "$root/usr/local/share/ca-certificates/check-debian-extra.crt"
  fi
  for m in proc sys dev; do
    case $m in
      proc) mount -t proc proc "$root/proc" ;;
      sys) mount -t sysfs sys "$root/sys" ;;
      dev) mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev" ;;
    esac
    mounted+=("$root/$m")
  done

  envs=()
  workdir=/
  rc=0
  n=0
  for step in "${steps[@]}"; do
    key=${step%% *}
    rest=${step#* }
    case $key in
      ENV) for kv in $rest; do envs+=("$kv"); done ;;
      WORKDIR) workdir=$rest; mkdir -p "$root$workdir" ;;
      COPY)
        phase "clone of $(git -C "$repo" rev-parse --short HEAD) into $workdir"
        git clone --quiet --no-hardlinks "$repo" "$root$workdir/.clone"
        shopt -s dotglob; mv "$root$workdir/.clone"/* "$root$workdir/"; shopt -u dotglob
        rmdir "$root$workdir/.clone" ;;
      RUN)
        n=$((n + 1))
        phase "RUN $rest"
        t=$(now)
        in_chroot "$rest" || { rc=$?; echo "check-debian: $release: RUN step $n failed (exit $rc)" >&2; break; }
        took "RUN step $n" "$t" ;;
    esac
  done

  if [ "$rc" = 0 ]; then
    phase "smoke check in a new shell"
    t=$(now)
    in_chroot "$SMOKE" || rc=$?
    [ "$rc" = 0 ] && took "smoke check" "$t"
  fi
  pretty=$(. "$root/etc/os-release" && echo "$PRETTY_NAME")
  if [ "$rc" = 0 ]; then
    printf '=== %s: PASS (%s) in %d s\n' "$release" "$pretty" "$(( $(now) - start ))"
  else
    printf '=== %s: FAIL (%s, exit %d) after %d s\n' "$release" "$pretty" "$rc" "$(( $(now) - start ))"
    status=1
  fi
  unmount_all
  if [ "$keep" = 0 ]; then
    rm -rf --one-file-system "$root"
  fi
done
exit $status
