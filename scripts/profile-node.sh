#!/usr/bin/env bash
# Profiles the running node on the bench's CT set: starts `shardpacs
# serve` on a free loopback port, sends the 1000-CT set that `make bench`
# builds (bench-out/sets/ct) with N parallel DCMTK storescu (TCP_NODELAY=1,
# as in the bench) and, in move mode, then moves every study back to a
# DCMTK storescp with one movescu association (as the bench's "C-MOVE
# whole set"). It prints the rate of the measured step and where the
# machine's time went per instance: the node's CPU (user, system), the
# whole machine's busy, idle and I/O-wait time (from /proc), and in move
# mode storescp's CPU. With PROFILE=FILE it also saves a CPU profile of the
# node during the measured step, taken through --debug-addr (read it with
# `go tool pprof BIN FILE`).
#
# Usage: scripts/profile-node.sh ingest|move [BIN] [ASSOCIATIONS]
#   BIN           a shardpacs binary (default: go build ./cmd/shardpacs)
#   ASSOCIATIONS  storescu associations for the ingest, 1 or 4 (default 4)
#   EXTRA_TOML    lines added to the configuration (e.g. 'compression = "s2"')
#   PROFILE=FILE  save a CPU profile (3 s of ingest, 1 s of C-MOVE)
#
# The data folder is deleted at the end; on ext4 without a journal that
# slows the next run's file creation for a minute (bench/trash.go), so wait
# a minute between runs or compare runs made in the same state.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in ingest|move) ;; *) echo "usage: scripts/profile-node.sh ingest|move [BIN] [ASSOCIATIONS]" >&2; exit 2;; esac
bin=${2:-}
assocs=${3:-4}
set_dir=bench-out/sets/ct/c0
[ -d "$set_dir" ] || { echo "profile-ingest: $set_dir missing: run 'make bench' (or go run ./bench -only ingest) once" >&2; exit 2; }
command -v storescu >/dev/null || { echo "profile-ingest: storescu missing (scripts/install-test-tools.sh)" >&2; exit 2; }
work=$(mktemp -d bench-out/profile.XXXXXX)
if [ -z "$bin" ]; then
  bin=$work/shardpacs
  go build -o "$bin" ./cmd/shardpacs
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
dport=$(free_port)
scp_port=$(free_port)
cat > "$work/shardpacs.toml" <<EOT
ae_title = "SHARDPACS"
listen = "127.0.0.1:$port"
data_dir = "$work/data"
unknown_calling_ae = "accept"
${EXTRA_TOML:-}
[log]
level = "warn"

[[peers]]
ae_title = "DEST"
host = "127.0.0.1"
port = $scp_port
EOT
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$bin" serve --config "$work/shardpacs.toml" --debug-addr "127.0.0.1:$dport" >"$work/serve.out" 2>"$work/serve.log" &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
n=$(find "$set_dir" -name '*.dcm' | wc -l)
hz=$(getconf CLK_TCK)
cpu_of() { awk '{print $14, $15}' "/proc/$1/stat"; }               # utime stime (ticks)
machine() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5, $6}' /proc/stat; } # busy idle iowait

# measure LABEL SECONDS CMD...: runs CMD, prints the rate of n instances
# and the time per instance; profiles the node for SECONDS when PROFILE.
measure() {
  local label=$1 secs=$2 u0 s0 u1 s1 b0 i0 w0 b1 i1 w1 c0=0 c1=0 x t0 t1 prof=
  shift 2
  read -r u0 s0 < <(cpu_of "$pid")
  read -r b0 i0 w0 < <(machine)
  [ -n "${scp:-}" ] && read -r c0 x < <(cpu_of "$scp") && c0=$((c0 + x))
  t0=$(date +%s.%N)
  if [ -n "${PROFILE:-}" ]; then
    curl -s -o "$PROFILE" "http://127.0.0.1:$dport/debug/pprof/profile?seconds=$secs" &
    prof=$!
  fi
  "$@"
  t1=$(date +%s.%N)
  read -r u1 s1 < <(cpu_of "$pid")
  read -r b1 i1 w1 < <(machine)
  [ -n "${scp:-}" ] && read -r c1 x < <(cpu_of "$scp") && c1=$((c1 + x))
  [ -n "$prof" ] && wait "$prof"
  python3 - "$label" "$n" "$t0" "$t1" "$u0" "$s0" "$u1" "$s1" "$b0" "$i0" "$w0" "$b1" "$i1" "$w1" "$c0" "$c1" "$hz" <<'PY'
import sys
label = sys.argv[1]
n, t0, t1, u0, s0, u1, s1, b0, i0, w0, b1, i1, w1, c0, c1, hz = (float(x) for x in sys.argv[2:18])
ms = lambda ticks: ticks * 1000 / hz / n
wall = t1 - t0
print(f"{label}: {n:.0f} instances in {wall:.2f} s = {n / wall:.0f} inst/s")
line = (f"  per instance: node CPU {ms(u1 - u0 + s1 - s0):.2f} ms (user {ms(u1 - u0):.2f}, system {ms(s1 - s0):.2f});"
        f" machine busy {ms(b1 - b0):.2f} ms, idle {ms(i1 - i0):.2f} ms, I/O wait {ms(w1 - w0):.2f} ms")
if c1 > c0:
    line += f"; storescp CPU {ms(c1 - c0):.2f} ms"
print(line)
PY
}

ingest() {
  local clients=() q
  if [ "$assocs" = 1 ]; then
    TCP_NODELAY=1 storescu -aet BENCH -aec SHARDPACS +sd +r -nh 127.0.0.1 "$port" "$set_dir" & clients+=($!)
  else
    for q in "$set_dir"/q*; do
      TCP_NODELAY=1 storescu -aet BENCH -aec SHARDPACS +sd +r -nh 127.0.0.1 "$port" "$q" & clients+=($!)
    done
  fi
  wait "${clients[@]}"
}

if [ "$mode" = ingest ]; then
  measure "ingest, $assocs assoc." 3 ingest
  exit 0
fi

ingest
mkdir -p "$work/recv" "$work/queries"
python3 -c 'import json, sys; [print(s["StudyUID"]) for s in json.load(open(sys.argv[1]))["Studies"]]' \
  bench-out/sets/ct/manifest.json | while read -r uid; do
  printf '(0008,0052) CS [STUDY]\n(0020,000d) UI [%s]\n' "$uid" > "$work/q.dump"
  dump2dcm "$work/q.dump" "$work/queries/$uid.dcm"
done
TCP_NODELAY=1 storescp -aet DEST +xa -od "$work/recv" "$scp_port" 2>"$work/storescp.log" &
scp=$!
pids+=("$scp")
for _ in $(seq 100); do echoscu -aec DEST 127.0.0.1 "$scp_port" 2>/dev/null && break; sleep 0.1; done
move() { TCP_NODELAY=1 movescu -aet BENCH -aec SHARDPACS -aem DEST -S 127.0.0.1 "$port" "$work"/queries/*.dcm; }
measure "C-MOVE of every study, 1 assoc." 1 move
got=$(find "$work/recv" -type f | wc -l)
[ "$got" = "$n" ] || { echo "profile-node: storescp received $got of $n instances" >&2; exit 1; }
