#!/usr/bin/env bash
# Checks the README on fresh Debian systems: for each release it builds a minimal chroot with
# debootstrap (--variant=minbase, what debian:<release>-slim images hold), clones the repository's
# HEAD into it, runs the Dockerfile's steps there (its ENV, WORKDIR, COPY and RUN lines; FROM is
# replaced by the release), then every command the README's quick start shows, each phase in a new
# shell as a user would type it (after `. .venv/bin/activate` where the README puts it):
#   make test            the smoke tests below through `make test TEST_ARGS=...` (--full-tests: the
#                        whole suite)
#   activation line      tinykd --version/--help, params check, dvc, snakemake, compiler, QEMU, and
#                        the README's `python scripts/record_run.py table ...` (its output must be
#                        the README's Results table)
#   tinykd preset run quick   every stage, fetch to report, on the 5,000-image subset; with
#                        --dataset FILE the documented offline way: FILE copied into the chroot and
#                        named by the two dataset values in params.yaml (docs/pipeline.md#dataset)
#   dvc exp run -S kd.alpha=0.3 && dvc metrics diff   on top of the quick run, after the git
#                        identity the README asks for (the quick run has none: tinykd's stand-in);
#                        also checks that fetch, teacher and baseline do not rerun (the README's claim)
#   make repro           with params.yaml back at its defaults: the set-up (skipped, done), dvc init
#                        check and params check for real, then `dvc repro --dry` (REPRO_ARGS) lists
#                        every stage instead of training for over an hour. It comes after the quick
#                        run because `dvc repro --dry` in a clone with no data/ stops at the first
#                        stage whose inputs are missing (DVC computes their hashes).
# The Dockerfile is thus the one recipe: a container build and this check run the same commands,
# and this check also covers Debian 12, which the Dockerfile does not use.
#
#   sudo scripts/check-debian.sh [--dir DIR] [--keep] [--ca-file FILE] [--mirror URL]
#                                [--dataset FILE] [--full-tests] RELEASE...
#   scripts/check-debian.sh --dry-run [--dockerfile FILE] RELEASE...
#
#   RELEASE      bookworm (Debian 12) or trixie (Debian 13)
#   --dir DIR    where the chroots go (default /var/tmp/tinykd-check); DIR/RELEASE is created and,
#                unless --keep, removed at the end. An existing DIR/RELEASE is replaced only if this
#                script made it (it holds .tinykd-check), else refused.
#   --ca-file F  an extra CA certificate the chroot trusts (a network behind a TLS-inspecting proxy)
#   --mirror URL the Debian mirror (default http://deb.debian.org/debian)
#   --dataset F  a local dataset archive for the quick run (image_folder .tar.gz, e.g. the shared
#                cifar10-jpeg-q75.tar.gz); without it `fetch` downloads CIFAR-10 (170 MB)
#   --full-tests `make test` runs the whole suite instead of the smoke tests
#   --dry-run    print the steps that would run and stop (no root needed, nothing created)
#   --dockerfile F  read F's steps instead of the committed Dockerfile (COPY still clones HEAD)
#
# Needs root, debootstrap and the network (Debian mirror, PyPI). Prints each phase's duration and,
# at the end, a table of them.
set -euo pipefail

usage() { sed -n '26,43p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=/var/tmp/tinykd-check
keep=0
ca_file=""
mirror=http://deb.debian.org/debian
dry_run=0
dockerfile=""
dataset=""
full_tests=0
releases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
    --keep) keep=1; shift ;;
    --ca-file) ca_file=${2:?--ca-file needs a file}; shift 2 ;;
    --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --dockerfile) dockerfile=${2:?--dockerfile needs a file}; shift 2 ;;
    --dataset) dataset=${2:?--dataset needs a file}; shift 2 ;;
    --full-tests) full_tests=1; shift ;;
    -h|--help) usage ;;
    -*) echo "check-debian: unknown option $1; expected --dir, --keep, --ca-file, --mirror, --dataset, --full-tests, --dry-run, --dockerfile" >&2; exit 2 ;;
    bookworm|trixie) releases+=("$1"); shift ;;
    *) echo "check-debian: release $1 is not checked; expected bookworm or trixie" >&2; exit 2 ;;
  esac
done
[ ${#releases[@]} -gt 0 ] || usage
[ -z "$ca_file" ] || [ -f "$ca_file" ] || { echo "check-debian: --ca-file $ca_file is not a file" >&2; exit 2; }
[ -z "$dataset" ] || [ -f "$dataset" ] || { echo "check-debian: --dataset $dataset is not a file" >&2; exit 2; }
if [ -n "$dockerfile" ]; then
  [ -f "$dockerfile" ] || { echo "check-debian: --dockerfile $dockerfile is not a file" >&2; exit 2; }
  recipe=$(cat "$dockerfile")
else
  recipe=$(git -C "$repo" show HEAD:Dockerfile 2>/dev/null) || {
    echo "check-debian: $repo has no committed Dockerfile (the check clones HEAD)" >&2; exit 1; }
fi

# The smoke tests: fast tests that need the installed toolchain (a firmware build) and QEMU's
# board (a boot and HELLO), besides the CLI and params tests.
SMOKE_TESTS='tests/test_cli.py tests/test_params.py
  tests/test_firmware_build.py::test_build_reports_memory_and_is_reproducible
  tests/test_device_qemu.py::test_hello_describes_the_model'
SMOKE_TESTS=$(echo $SMOKE_TESTS)
if [ "$full_tests" = 1 ]; then MAKE_TEST='make test'
else MAKE_TEST="make test TEST_ARGS='-q -p no:cacheprovider $SMOKE_TESTS'"; fi
data_in_chroot=/srv/tinykd-data/$(basename "${dataset:-none}")
# The two dataset values docs/pipeline.md#dataset says to put in params.yaml for a local copy.
SET_DATASET="sed -i '/^dataset:/,/^\$/{s|^  name: cifar10 |  name: image_folder |;s|^  source: \"\" |  source: $data_in_chroot |}' params.yaml
grep -q '^  source: $data_in_chroot ' params.yaml || { echo 'check-debian: params.yaml has no dataset.source line to set' >&2; exit 1; }"

# The README's commands after set-up, in its order except `make repro` (see the header). Each runs
# in a new bash (a user's shell) with `set -eo pipefail`; "name|commands".
phases=(
"make test|$MAKE_TEST"
"activation line|. .venv/bin/activate
tinykd --version
tinykd --help > /dev/null
tinykd params check params.yaml
dvc --version
snakemake --version
arm-none-eabi-gcc --version | head -1
qemu-system-arm --version | head -1
table_cmd=\$(grep -o 'python scripts/record_run.py table [^\`]*' README.md | head -1)
[ -n \"\$table_cmd\" ] || { echo 'check-debian: the README shows no record_run.py table command' >&2; exit 1; }
\$table_cmd > /tmp/table.md
if grep -Fxv -f README.md /tmp/table.md; then echo 'check-debian: record_run.py table differs from the README (lines above)' >&2; exit 1; fi")
[ -z "$dataset" ] || phases+=("offline dataset in params.yaml|$SET_DATASET")
phases+=(
"tinykd preset run quick|. .venv/bin/activate
tinykd preset run quick 2>&1 | tee /tmp/quick.log
grep '^preset quick: report in /' /tmp/quick.log"
"dvc exp run -S kd.alpha=0.3 && dvc metrics diff|. .venv/bin/activate
git config --global user.name 'check-debian' && git config --global user.email check-debian@localhost.invalid
dvc exp run -S kd.alpha=0.3 2>&1 | tee /tmp/alpha.log && dvc metrics diff
grep -q \"Running stage 'distill'\" /tmp/alpha.log
if grep -E \"Running stage '(fetch|teacher|baseline)'\" /tmp/alpha.log; then echo 'check-debian: a kd.* change reran the stage above' >&2; exit 1; fi"
"make repro (--dry, default params)|git checkout HEAD -- params.yaml
${dataset:+$SET_DATASET
}make repro REPRO_ARGS=--dry 2>&1 | tee /tmp/repro.log
grep -q \"Running stage 'teacher'\" /tmp/repro.log")

now() { date +%s; }
phase() { printf '\n=== %s: %s\n' "$release" "$*"; }
summary=()
took() {
  local secs=$(( $(now) - $2 ))
  printf '=== %s: %s took %d s\n' "$release" "$1" "$secs"
  summary+=("$(printf '%-9s %6d s  %s' "$release" "$secs" "$1")")
}

# Ends what the check started in the chroot and still runs (a background daemon of DVC's, say; one
# once kept writing while the chroot was being removed): the processes whose root is the chroot.
stop_chroot_processes() {
  local p sig pids
  [ -n "${root:-}" ] || return 0
  for sig in TERM KILL; do
    pids=()
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids+=("${p#/proc/}")
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    echo "check-debian: ending what still runs in $root: ${pids[*]} (SIG$sig)" >&2
    kill -s "$sig" "${pids[@]}" 2>/dev/null || true
    sleep 5
  done
}

mounted=()
unmount_all() {
  local m
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do
    m=${mounted[$i]}
    umount -R "$m" 2>/dev/null || umount -lR "$m" 2>/dev/null || true
  done
  mounted=()
}
trap 'stop_chroot_processes; unmount_all' EXIT

# Runs a shell command inside the chroot with a clean environment (as a container's RUN: root,
# HOME=/root, the default PATH) plus the Dockerfile's ENV lines, in its WORKDIR; /bin/sh as RUN
# does, or with a second argument that shell (bash for the README's commands).
in_chroot() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" \
    "${2:-/bin/sh}" -c "cd '$workdir' && $1"
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
    for p in "${phases[@]}"; do printf 'PHASE %s\n' "${p%%|*}"; printf '  %s\n' "${p#*|}"; done
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

  if [ "$rc" = 0 ] && [ -n "$dataset" ]; then
    mkdir -p "$root$(dirname "$data_in_chroot")"
    cp "$dataset" "$root$data_in_chroot"
  fi
  for p in "${phases[@]}"; do
    [ "$rc" = 0 ] || break
    name=${p%%|*}
    phase "$name (a new shell)"
    t=$(now)
    in_chroot "set -eo pipefail
${p#*|}" /bin/bash || { rc=$?; echo "check-debian: $release: $name failed (exit $rc)" >&2; break; }
    took "$name" "$t"
  done
  pretty=$(. "$root/etc/os-release" && echo "$PRETTY_NAME")
  if [ "$rc" = 0 ]; then
    printf '=== %s: PASS (%s) in %d s\n' "$release" "$pretty" "$(( $(now) - start ))"
    summary+=("$(printf '%-9s %6d s  total, PASS (%s)' "$release" "$(( $(now) - start ))" "$pretty")")
  else
    printf '=== %s: FAIL (%s, exit %d) after %d s\n' "$release" "$pretty" "$rc" "$(( $(now) - start ))"
    summary+=("$(printf '%-9s %6d s  total, FAIL (%s)' "$release" "$(( $(now) - start ))" "$pretty")")
    status=1
  fi
  stop_chroot_processes
  unmount_all
  if [ "$keep" = 0 ]; then
    rm -rf --one-file-system "$root" || echo "check-debian: $root could not be removed entirely" >&2
  fi
done
printf '\n=== phase durations\n'
printf '%s\n' "${summary[@]}"
exit $status
