#!/usr/bin/env bash
# Carries a long training benchmark (`ecgflow bench adaptive-vs-vanilla --resume`) from one machine to the
# next: `save` copies the least a resume needs out of the benchmark's --out directory, `restore` puts it
# back in an empty one. The paper-scale comparison needs about 17 hours of a 2-core machine, longer than a
# working session, and the working tree (with out/) does not outlive one; see docs/benchmarks.md.
#
#   state.sh save    BENCH_DIR STATE_DIR    replace STATE_DIR with BENCH_DIR's state
#   state.sh restore STATE_DIR BENCH_DIR    copy a saved state into BENCH_DIR (absent or empty)
#
# What is kept, per mode directory (adaptive/, vanilla/):
#   finished (report.json present): report.json, report/ (pictures), run.json, energy.json,
#     best-validation.json, model/ (the trained model, for `evaluate`); no checkpoints;
#   unfinished: run.json, energy.json, best-validation.json, model-best/ and the newest checkpoint alone
#     (checkpoints/LATEST and the directory it names: model, momentum buffers, power-iteration vectors,
#     trainer state with every finished epoch's time), which is all `--resume` reads.
# Plus bench.json (the settings a resume is checked against), sessions.json and comparison.json.
#
# Stop the benchmark before `save` (kill it; a resume loses only the epoch in progress): a checkpoint
# written during the copy is detected and the copy refused, never half taken.
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
  copy_if_present "${from}" "${to}" run.json energy.json best-validation.json
  if [ -f "${from}/report.json" ]; then
    copy_if_present "${from}" "${to}" report.json report model
    log "${mode}: finished; report and model kept"
    return 0
  fi
  copy_if_present "${from}" "${to}" model-best
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
  # A checkpoint that appeared meanwhile means the benchmark is still running: the copy may mix epochs.
  [ "$(tr -d '[:space:]' <"${latest_file}")" = "${latest}" ] ||
    die "${mode}: a new checkpoint was written during the copy; stop the benchmark first"
  local epochs
  epochs="$(node -e 'const s=require(process.argv[1]);process.stdout.write(String(s.state.nextEpoch))' \
    "$(cd "${to}/checkpoints/${latest}" && pwd)/state.json")"
  log "${mode}: ${epochs} epoch(s) done, newest checkpoint ${latest} kept"
}

cmd_save() {
  [ $# -eq 2 ] || usage
  local bench="$1" state="$2"
  [ -f "${bench}/bench.json" ] || die "${bench} holds no benchmark (no bench.json)"
  local tmp="${state%/}.tmp-$$"
  rm -rf "${tmp}"
  mkdir -p "${tmp}"
  trap 'rm -rf "${tmp}"' EXIT
  copy_if_present "${bench}" "${tmp}" bench.json sessions.json comparison.json
  local mode
  for mode in "${MODES[@]}"; do
    if [ -d "${bench}/${mode}" ]; then save_mode "${bench}/${mode}" "${tmp}/${mode}"; fi
  done
  rm -rf "${state}"
  mv "${tmp}" "${state}"
  trap - EXIT
  log "saved to ${state} ($(du -sh "${state}" | cut -f1))"
}

cmd_restore() {
  [ $# -eq 2 ] || usage
  local state="$1" bench="$2"
  [ -f "${state}/bench.json" ] || die "${state} holds no saved benchmark state (no bench.json)"
  if [ -e "${bench}" ] && [ -n "$(ls -A "${bench}")" ]; then
    die "${bench} is not empty: restore into a new directory (a resume there would mix two states)"
  fi
  mkdir -p "${bench}"
  cp -R "${state}/." "${bench}/"
  log "restored ${state} into ${bench}; continue with: ecgflow bench adaptive-vs-vanilla --resume --out ${bench} (and the flags in bench.json)"
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "${command}" in
  save) cmd_save "$@" ;;
  restore) cmd_restore "$@" ;;
  *) usage ;;
esac
