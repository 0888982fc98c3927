#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, no ZooKeeper, no Docker) that the project provisions from
# Maven Central and runs itself, for tests, benchmarks and local runs. See docs/kafka-local.md.
#
#   broker.sh provision                    resolve the broker's jars into .kafka/lib (once; then instant)
#   broker.sh start  [--name N] [--port P] [--controller-port C] [--owner-pid PID] [--timeout S]
#   broker.sh stop   [--name N] [--timeout S]
#   broker.sh status [--name N | --all]
#
# Everything lives under .kafka/ in the repository root: lib/ (classpath), and per broker name
# .kafka/<name>/{server.properties,broker.pid,broker.env,data/,logs/}. Progress goes to stderr; `start`
# prints the bootstrap address (127.0.0.1:<port>) as its last stdout line.
#
# Exit codes: 0 ok; 1 failure; 2 usage; 3 `start` refused because a broker with that name is already
# running (use it, stop it, or pick another --name); `status`: 1 not running, 2 not answering.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
KAFKA_DIR="${ROOT}/.kafka"
LIB="${KAFKA_DIR}/lib"
POM="${SCRIPT_DIR}/pom.xml"
PROBE="${SCRIPT_DIR}/probe.js"
NODE_ID=1

# Broker JVM: fixed 512 MiB heap (bare java would take a quarter of RAM) and Kafka's usual G1 settings.
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
# Short-lived tools (StorageTool) start faster with only the C1 compiler and a small heap.
TOOL_JVM_OPTS="-Xms64m -Xmx256m -XX:TieredStopAtLevel=1"

log() { printf '[kafka] %s\n' "$*" >&2; }
die() {
  log "error: $1"
  exit "${2:-1}"
}
now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "${POM}"; }

require() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not on PATH ($2)"
}

# ---------------------------------------------------------------------------------------------- provision

cmd_provision() {
  local quiet=0
  [ "${1:-}" = --quiet-if-current ] && quiet=1 && shift
  [ $# -eq 0 ] || die "provision takes no arguments" 2
  require java "Java 11+ runs the broker"
  require mvn "Maven resolves the broker's jars from Maven Central"
  mkdir -p "${KAFKA_DIR}"
  # Serialise concurrent provisioners (two `npm test` at once); the second one finds the stamp and returns.
  exec 8>"${KAFKA_DIR}/provision.lock"
  flock -w 900 8 || die "timed out waiting for another provisioning run (${KAFKA_DIR}/provision.lock)"

  local hash
  hash="$(sha256sum "${POM}" | cut -c1-64)"
  if [ -f "${LIB}/.stamp" ] && [ "$(cat "${LIB}/.stamp")" = "${hash}" ]; then
    [ "${quiet}" = 1 ] || log "provision: Kafka $(kafka_version) already in ${LIB#"${ROOT}/"} ($(find "${LIB}" -name '*.jar' | wc -l) jars)"
    exec 8>&-
    return 0
  fi

  local t0 tmp
  t0="$(now_ms)"
  tmp="${KAFKA_DIR}/lib.tmp.$$"
  rm -rf "${tmp}"
  log "provision: resolving org.apache.kafka:kafka_2.13:$(kafka_version) with Maven (first run downloads ~50 MB into ~/.m2) ..."
  if ! mvn -q -B -Dstyle.color=never -f "${POM}" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="${tmp}" >"${KAFKA_DIR}/provision.log" 2>&1; then
    tail -n 40 "${KAFKA_DIR}/provision.log" >&2
    rm -rf "${tmp}"
    die "mvn dependency:copy-dependencies failed (full output: ${KAFKA_DIR}/provision.log)"
  fi
  local jar
  for jar in "kafka_2.13-$(kafka_version).jar" "kafka-clients-$(kafka_version).jar" "slf4j-reload4j-1.7.36.jar"; do
    [ -f "${tmp}/${jar}" ] || die "provisioned classpath lacks ${jar} (see ${KAFKA_DIR}/provision.log)"
  done
  printf '%s\n' "${hash}" >"${tmp}/.stamp"
  rm -rf "${LIB}"
  mv "${tmp}" "${LIB}"
  log "provision: $(find "${LIB}" -name '*.jar' | wc -l) jars ($(du -sm "${LIB}" | cut -f1) MB) in ${LIB#"${ROOT}/"} after $(secs_since "${t0}") s"
  exec 8>&-
}

# ------------------------------------------------------------------------------------------ broker state

broker_dir() { printf '%s/%s' "${KAFKA_DIR}" "$1"; }

check_name() {
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] && [ "$1" != lib ] ||
    die "bad broker name '$1' (letters, digits, . _ -; not 'lib')" 2
}

# The PID recorded for broker NAME if that process is still this broker (guards against PID reuse and
# against zombies, whose cmdline is empty); nothing otherwise.
live_pid() {
  local dir pid
  dir="$(broker_dir "$1")"
  [ -f "${dir}/broker.pid" ] || return 1
  pid="$(cat "${dir}/broker.pid")"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/${pid}/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -qF "kafka.Kafka ${dir}/server.properties" || return 1
  printf '%s' "${pid}"
}

# A broker whose recorded owner (the process that asked for it via --owner-pid) is gone was left behind by
# a killed test run or benchmark; brokers started by hand have no owner and are never considered stale.
is_stale() {
  local dir owner
  dir="$(broker_dir "$1")"
  [ -f "${dir}/owner.pid" ] || return 1
  owner="$(cat "${dir}/owner.pid")"
  [[ "${owner}" =~ ^[0-9]+$ ]] || return 1
  ! kill -0 "${owner}" 2>/dev/null
}

broker_port() {
  local dir
  dir="$(broker_dir "$1")"
  [ -f "${dir}/broker.env" ] && sed -n 's/^PORT=//p' "${dir}/broker.env"
}

tail_logs() {
  local dir f
  dir="$(broker_dir "$1")"
  for f in "${dir}/logs/console.log" "${dir}/logs/server.log"; do
    if [ -s "${f}" ]; then
      printf -- '----- last lines of %s -----\n' "${f#"${ROOT}/"}" >&2
      tail -n "${2:-40}" "${f}" >&2
    fi
  done
}

# Stop broker NAME by its recorded PID: SIGTERM (controlled shutdown), SIGKILL after the deadline. Removes
# its data (topics do not outlive the broker) but keeps logs/ for post-mortems.
stop_broker() {
  local name="$1" timeout_s="$2" dir pid t0 waited
  dir="$(broker_dir "${name}")"
  t0="$(now_ms)"
  if pid="$(live_pid "${name}")"; then
    log "stopping '${name}' (pid ${pid}) ..."
    kill -TERM "${pid}" 2>/dev/null || true
    waited=0
    while live_pid "${name}" >/dev/null && [ "${waited}" -lt $((timeout_s * 10)) ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if live_pid "${name}" >/dev/null; then
      log "'${name}' still running after ${timeout_s} s; sending SIGKILL to pid ${pid}"
      kill -KILL "${pid}" 2>/dev/null || true
      waited=0
      while live_pid "${name}" >/dev/null && [ "${waited}" -lt 100 ]; do
        sleep 0.1
        waited=$((waited + 1))
      done
      live_pid "${name}" >/dev/null && die "pid ${pid} survived SIGKILL"
    fi
    log "stopped '${name}' after $(secs_since "${t0}") s"
  else
    log "'${name}' is not running"
  fi
  rm -rf "${dir}/data"
  rm -f "${dir}/broker.pid" "${dir}/owner.pid"
}

reap_stale() {
  local d name
  for d in "${KAFKA_DIR}"/*/; do
    name="$(basename "${d}")"
    [ "${name}" = lib ] && continue
    if live_pid "${name}" >/dev/null && is_stale "${name}"; then
      log "broker '${name}' outlived its owner (pid $(cat "${d}/owner.pid")); stopping it"
      stop_broker "${name}" 30
    fi
  done
}

# -------------------------------------------------------------------------------------------------- start

write_properties() {
  local dir="$1" port="$2" cport="$3"
  cat >"${dir}/server.properties" <<EOF
# Written by scripts/kafka/broker.sh start (rewritten on every start; edit the script, not this file).

# Single-node KRaft: this process is both broker and the only controller voter.
process.roles=broker,controller
node.id=${NODE_ID}
controller.quorum.voters=${NODE_ID}@127.0.0.1:${cport}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dir}/data

# One replica of everything; internal topics with one partition so the first group join and the first
# transactional producer are fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0

# ecgflow creates its topics explicitly with the partition counts it needs; a typo must not make a topic.
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=1

# Sized for a 2-core machine on loopback: few threads, a small log-cleaner buffer (it is heap), moderate
# segments so retention can act, and retention bounded by size so a long benchmark cannot fill the disk
# (data/ is wiped on stop anyway).
num.network.threads=2
num.io.threads=4
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.segment.bytes=67108864
log.retention.bytes=1073741824
log.retention.hours=24
log.retention.check.interval.ms=60000
log.segment.delete.delay.ms=1000
EOF
}

cmd_start() {
  local name=default port="" cport="" owner="" timeout_s="${KAFKA_START_TIMEOUT_S:-90}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) name="${2:?--name needs a value}"; shift 2 ;;
      --port) port="${2:?--port needs a value}"; shift 2 ;;
      --controller-port) cport="${2:?--controller-port needs a value}"; shift 2 ;;
      --owner-pid) owner="${2:?--owner-pid needs a value}"; shift 2 ;;
      --timeout) timeout_s="${2:?--timeout needs a value}"; shift 2 ;;
      *) die "start: unknown argument '$1'" 2 ;;
    esac
  done
  check_name "${name}"
  [ -z "${port}" ] || [[ "${port}" =~ ^[0-9]+$ ]] || die "--port must be a number" 2
  [ -z "${cport}" ] || [[ "${cport}" =~ ^[0-9]+$ ]] || die "--controller-port must be a number" 2
  [ -z "${owner}" ] || [[ "${owner}" =~ ^[0-9]+$ ]] || die "--owner-pid must be a number" 2
  [[ "${timeout_s}" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds" 2
  require node "Node checks that the broker answers"

  cmd_provision --quiet-if-current

  local dir t0
  dir="$(broker_dir "${name}")"
  t0="$(now_ms)"
  mkdir -p "${dir}"
  # One start at a time, held until the new broker has bound its ports, so concurrent starts never pick the
  # same free ports. (fd 9 is closed for the broker itself, or it would hold the lock for its lifetime.)
  exec 9>"${KAFKA_DIR}/start.lock"
  flock -w 300 9 || die "timed out waiting for another broker start (${KAFKA_DIR}/start.lock)"

  reap_stale
  local pid
  if pid="$(live_pid "${name}")"; then
    log "broker '${name}' is already running (pid ${pid}, 127.0.0.1:$(broker_port "${name}")); use it, stop it with 'scripts/kafka/broker.sh stop --name ${name}', or pick another --name"
    exit 3
  fi

  if [ -z "${port}" ]; then
    local pair
    pair="$(node "${PROBE}" free-pair 19092 50)" || die "could not find free ports"
    port="${pair% *}"
    [ -n "${cport}" ] || cport="${pair#* }"
  fi
  [ -n "${cport}" ] || cport=$((port + 1))
  [ "${port}" != "${cport}" ] || die "--port and --controller-port must differ" 2
  node "${PROBE}" can-bind "${port}" "${cport}" || die "port ${port} or ${cport} is taken; choose others or leave --port out"

  # A fresh broker every time: data/ left by a killed broker would carry old topics and another cluster id.
  rm -rf "${dir}/data" "${dir}/logs"
  mkdir -p "${dir}/data" "${dir}/logs"
  write_properties "${dir}" "${port}" "${cport}"
  printf 'PORT=%s\nCONTROLLER_PORT=%s\n' "${port}" "${cport}" >"${dir}/broker.env"

  # Kafka cluster ids are 16 random bytes in URL-safe base64 without padding, never starting with '-'
  # (what `StorageTool random-uuid` prints); generating it here saves a JVM start.
  local cluster_id
  cluster_id="$(node -e "let s;do{s=require('crypto').randomBytes(16).toString('base64url')}while(s[0]==='-');console.log(s)")"
  # shellcheck disable=SC2086
  if ! java ${TOOL_JVM_OPTS} -Dkafka.logs.dir="${dir}/logs" -Dlog4j.configuration="file:${SCRIPT_DIR}/log4j.properties" \
    -cp "${LIB}/*" kafka.tools.StorageTool format -t "${cluster_id}" -c "${dir}/server.properties" \
    --ignore-formatted >"${dir}/logs/format.log" 2>&1; then
    cat "${dir}/logs/format.log" >&2
    die "formatting ${dir#"${ROOT}/"}/data failed"
  fi

  # setsid: a Ctrl-C in the terminal must reach the test runner (which stops the broker cleanly), not kill
  # the broker mid-write. Without job control the subshell is no group leader, so setsid execs in place and
  # $! is the JVM's own PID (checked by live_pid below).
  # shellcheck disable=SC2086
  (cd "${dir}" && exec setsid java ${KAFKA_HEAP_OPTS} ${KAFKA_JVM_OPTS} \
    -Dkafka.logs.dir="${dir}/logs" -Dlog4j.configuration="file:${SCRIPT_DIR}/log4j.properties" \
    -cp "${LIB}/*" kafka.Kafka "${dir}/server.properties") \
    </dev/null >"${dir}/logs/console.log" 2>&1 8>&- 9>&- &
  pid=$!
  printf '%s\n' "${pid}" >"${dir}/broker.pid"
  # The broker is in its own session and survives our death; do not leave it behind if we are interrupted.
  trap 'log "interrupted; stopping the broker being started"; stop_broker "${name}" 10; exit 130' INT TERM
  if [ -n "${owner}" ]; then printf '%s\n' "${owner}" >"${dir}/owner.pid"; else rm -f "${dir}/owner.pid"; fi
  log "starting '${name}' (Kafka $(kafka_version), pid ${pid}, 127.0.0.1:${port}, controller ${cport}, logs ${dir#"${ROOT}/"}/logs)"

  local deadline why=""
  deadline=$(($(date +%s) + timeout_s))
  sleep 0.5
  while :; do
    if ! live_pid "${name}" >/dev/null; then
      why="the broker exited during startup"
      break
    fi
    if why="$(node "${PROBE}" metadata 127.0.0.1 "${port}" "${NODE_ID}" 2>&1)"; then
      why=""
      break
    fi
    if [ "$(date +%s)" -ge "${deadline}" ]; then
      why="not ready after ${timeout_s} s (${why})"
      break
    fi
    sleep 0.25
  done
  if [ -n "${why}" ]; then
    tail_logs "${name}" 40
    stop_broker "${name}" 10 || true
    die "broker '${name}' did not start: ${why}"
  fi
  trap - INT TERM
  exec 9>&-
  log "'${name}' ready after $(secs_since "${t0}") s"
  printf '127.0.0.1:%s\n' "${port}"
}

# ----------------------------------------------------------------------------------------- stop / status

cmd_stop() {
  local name=default timeout_s="${KAFKA_STOP_TIMEOUT_S:-30}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) name="${2:?--name needs a value}"; shift 2 ;;
      --timeout) timeout_s="${2:?--timeout needs a value}"; shift 2 ;;
      *) die "stop: unknown argument '$1'" 2 ;;
    esac
  done
  check_name "${name}"
  [[ "${timeout_s}" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds" 2
  stop_broker "${name}" "${timeout_s}"
}

status_one() {
  local name="$1" pid port
  if ! pid="$(live_pid "${name}")"; then
    echo "${name}: not running"
    return 1
  fi
  port="$(broker_port "${name}")"
  local owner=""
  [ -f "$(broker_dir "${name}")/owner.pid" ] && owner=", owner pid $(cat "$(broker_dir "${name}")/owner.pid")"
  if node "${PROBE}" metadata 127.0.0.1 "${port}" "${NODE_ID}" >/dev/null 2>&1; then
    echo "${name}: running, pid ${pid}, 127.0.0.1:${port}${owner}"
  else
    echo "${name}: running but not answering, pid ${pid}, 127.0.0.1:${port}${owner}"
    return 2
  fi
}

cmd_status() {
  local name=default all=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) name="${2:?--name needs a value}"; shift 2 ;;
      --all) all=1; shift ;;
      *) die "status: unknown argument '$1'" 2 ;;
    esac
  done
  if [ "${all}" = 1 ]; then
    local d n any=0
    for d in "${KAFKA_DIR}"/*/; do
      [ -f "${d}/broker.pid" ] || continue
      n="$(basename "${d}")"
      any=1
      status_one "${n}" || true
    done
    [ "${any}" = 1 ] || echo "no brokers"
    [ -f "${LIB}/.stamp" ] && echo "classpath: ${LIB#"${ROOT}/"} (Kafka $(kafka_version))" || echo "classpath: not provisioned"
    return 0
  fi
  check_name "${name}"
  status_one "${name}"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "${cmd}" in
    provision) cmd_provision "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage
      exit 2
      ;;
  esac
}

main "$@"
