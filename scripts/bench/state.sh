#!/usr/bin/env bash
# Carries a long training benchmark (`ecgflow bench adaptive-vs-vanilla --resume`) from one machine or
# directory to the next: `save` copies the least a resume needs out of the benchmark's --out directory,
# `restore` puts it back into an empty one. The paper-scale comparison needs 13-17 hours of a 2-core
# machine, longer than a working session, and a working tree (with out/) may not outlive one. Usage and
# limits: docs/training.md (Outputs); the run it serves: docs/benchmarks.md.
#
#   state.sh save    BENCH_DIR STATE_DIR    replace STATE_DIR with BENCH_DIR's state
#   state.sh restore STATE_DIR BENCH_DIR    copy a saved state into BENCH_DIR (absent or empty)
#
# What is kept, per mode directory (adaptive/, vanilla/):
#   finished (report.json present): report.json, report/ (pictures), run.json, energy.json,
#     best-validation.json, model/ and model-best/ (for `evaluate`); no checkpoints;
#   unfinished: run.json, energy.json, best-validation.json, model-best/ and the newest checkpoint alone
#     (checkpoints/LATEST and the directory it names: model, momentum buffers, power-iteration vectors,
#     trainer state with every finished epoch's time), which is all `--resume` reads.
# Plus bench.json (the settings a resume is checked against), sessions.json and comparison.json.
#
# Stop the benchmark before `save` (kill it; a resume loses only the epoch in progress): `save` lists
# every file's size and modification time before and after copying and refuses the copy if anything was
# written meanwhile. The beat log is not carried: on the embedded bus every start rebuilds it in a
# canonical order; on Kafka the resume must read the same topic on the same broker (docs/training.md).
#
# Exit codes: 0 ok; 1 failure; 2 usage.
set -euo pipefail

log() { printf '[bench-state] %s\n' "$*" >&2; }
die() {
  log "error: $1"
  exit "${2:-1}"
}
usage() { die "usage: state.sh save BENCH_DIR STATE_DIR | state.sh restore STATE_DIR BENCH_DIR" 2; }

MODES=(adaptive vanilla)

# copy_if_present SRC_DIR DEST_DIR NAME...: copies each NAME (file or directory) that exists.
copy_if_present() {
  local from="$1" to="$2"
  shift 2
  local name
  for name in "$@"; do
    if [ -e "${from}/${name}" ]; then cp -R "${from}/${name}" "${to}/${name}"; fi
  done
}

save_mode() {
  local from="$1" to="$2" mode
  mode="$(basename "${from}")"
  mkdir -p "${to}"
  copy_if_present "${from}" "${to}" run.json energy.json best-validation.json model-best
  if [ -f "${from}/report.json" ]; then
    copy_if_present "${from}" "${to}" report.json report model
    log "${mode}: finished; report, model and model-best kept"
    return 0
  fi
  local latest_file="${from}/checkpoints/LATEST"
  if [ ! -f "${latest_file}" ]; then
    log "${mode}: no checkpoint yet (a resume starts it over)"
    return 0
  fi
  local latest
  latest="$(tr -d '[:space:]' <"${latest_file}")"
  [ -n "${latest}" ] && [ -d "${from}/checkpoints/${latest}" ] ||
    die "${latest_file} names '${latest}', which is not a checkpoint directory beside it"
  mkdir -p "${to}/checkpoints"
  cp -R "${from}/checkpoints/${latest}" "${to}/checkpoints/${latest}"
  printf '%s\n' "${latest}" >"${to}/checkpoints/LATEST"
  # For the log only.
  local epochs
  epochs="$(grep -o '"nextEpoch": *[0-9]*' "${to}/checkpoints/${latest}/state.json" | head -n 1 | grep -o '[0-9]*$' || true)"
  log "${mode}: ${epochs:-?} epoch(s) done, newest checkpoint ${latest} kept"
}

# Every file below a directory with its size and modification time: two equal listings mean nothing was
# written in between.
listing() { find "$1" -type f -printf '%T@ %s %p\n' | sort; }

# The canonical absolute path of an existing directory, or of a path to be created (its parent must exist).
absolute() {
  if [ -d "$1" ]; then
    (cd "$1" && pwd -P)
  else
    printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd -P)" "$(basename "$1")"
  fi
}

# Refuses a state directory that is, holds or lies inside the benchmark (replacing it would delete it).
refuse_overlap() {
  local a b
  a="$(absolute "$1")"
  b="$(absolute "$2")"
  case "${a}/" in "${b}/"*) die "$1 and $2 overlap: keep the state outside the benchmark directory" ;; esac
  case "${b}/" in "${a}/"*) die "$1 and $2 overlap: keep the state outside the benchmark directory" ;; esac
  return 0
}

cmd_save() {
  [ $# -eq 2 ] || usage
  local bench="$1" state="$2"
  [ -f "${bench}/bench.json" ] || die "${bench} holds no benchmark (no bench.json)"
  state="${state%/}"
  [ ! -L "${state}" ] || die "${state} is a symbolic link: name the directory itself"
  mkdir -p "$(dirname "${state}")"
  refuse_overlap "${bench}" "${state}"
  local tmp="${state}.tmp-$$" old="${state}.old-$$"
  rm -rf "${tmp}" "${old}"
  mkdir -p "${tmp}"
  trap 'rm -rf "${tmp}"' EXIT
  local before
  before="$(listing "${bench}")"
  copy_if_present "${bench}" "${tmp}" bench.json sessions.json comparison.json
  local mode
  for mode in "${MODES[@]}"; do
    if [ -d "${bench}/${mode}" ]; then save_mode "${bench}/${mode}" "${tmp}/${mode}"; fi
  done
  [ "$(listing "${bench}")" = "${before}" ] ||
    die "${bench} changed during the copy: the benchmark is still running; stop it first"
  # The old state goes only once the new one is complete beside it.
  if [ -e "${state}" ]; then mv "${state}" "${old}"; fi
  mv "${tmp}" "${state}"
  trap - EXIT
  rm -rf "${old}"
  log "saved to ${state} ($(du -sh "${state}" | cut -f1))"
}

cmd_restore() {
  [ $# -eq 2 ] || usage
  local state="$1" bench="$2"
  [ -f "${state}/bench.json" ] || die "${state} holds no saved benchmark state (no bench.json)"
  bench="${bench%/}"
  mkdir -p "$(dirname "${bench}")"
  refuse_overlap "${state}" "${bench}"
  if [ -e "${bench}" ] && [ -n "$(ls -A "${bench}")" ]; then
    die "${bench} is not empty: restore into a new directory (a resume there would mix two states)"
  fi
  mkdir -p "${bench}"
  cp -R "${state}/." "${bench}/"
  log "restored ${state} into ${bench}; continue with: ecgflow bench adaptive-vs-vanilla --resume --out '${bench}' (and the flags in bench.json)"
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "${command}" in
  save) cmd_save "$@" ;;
  restore) cmd_restore "$@" ;;
  *) usage ;;
esac
