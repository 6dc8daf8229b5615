#!/usr/bin/env bash
# ptrain across simulated hosts (tools/multihost.sh: network namespaces on a bridge, each its own
# hostname), launched by tools/ptrain-mpirun as a user would: ranks placed one per host;
# --exact-reduce over 2 and 3 hosts ends at the one-process weights_hash; the fast mode finishes
# with every rank agreeing; a checkpoint written under 3 hosts resumes on 2 and on one process,
# bitwise. Then faults: a rank killed, a daemon killed, a host's link taken down, a rank stopped.
# Each must end the whole job within 20 s with a non-zero status and a line naming the rank or
# host, leave no process on any host, and leave a checkpoint that resumes, two epochs past it, to
# the one-process run's weights. Needs root and Open MPI; exits 77 (ctest: skipped), saying why,
# otherwise.
# usage: multihost.sh PTRAIN MAKE_FAKE_MNIST
set -uo pipefail
ptrain=$(realpath "$1")
make_data=$(realpath "$2")
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)
hosts="$tools/multihost.sh"

skip() { echo "multihost: skipped: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "network namespaces need root"
command -v mpirun >/dev/null || skip "Open MPI's mpirun is not installed"
command -v unshare >/dev/null && command -v ip >/dev/null || skip "needs ip (iproute2) and unshare (util-linux)"
ip netns add ptrain-probe 2>/dev/null || skip "this kernel or container does not allow network namespaces"
ip netns del ptrain-probe

work=$(mktemp -d)
trap '"$hosts" down; rm -rf "$work"' EXIT
failures=0
fail() { echo "multihost: FAILED: $*"; failures=$((failures + 1)); }
hash_of() { grep -o 'weights_hash [0-9a-f]*' "$1" | tail -n 1 | cut -d' ' -f2; }
"$make_data" "$work/mnist" 4000 1000 >/dev/null
train=("$ptrain" --data-dir "$work/mnist" --threads 1 --rank-timeout 8)

"$hosts" up 3 || { echo "multihost: could not set up the hosts"; exit 1; }

# Placement: one rank per host.
placed=$("$hosts" mpirun -np 3 hostname | sort | tr '\n' ' ')
[[ "$placed" == "h1 h2 h3 " ]] || fail "ranks placed on '$placed', not one on each of h1 h2 h3"

# The one-process runs every spread run must reproduce.
"${train[@]}" --epochs 2 >"$work/one2.out" && "${train[@]}" --epochs 4 >"$work/one4.out" ||
  fail "a one-process run failed"

for n in 2 3; do
  "$hosts" mpirun -np "$n" --host "$(seq -s, -f 'h%g' "$n")" "${train[@]}" --epochs 2 --exact-reduce \
    >"$work/exact$n.out" 2>&1 || fail "--exact-reduce over $n hosts failed: $(tail -n 3 "$work/exact$n.out")"
  [[ "$(hash_of "$work/exact$n.out")" == "$(hash_of "$work/one2.out")" ]] ||
    fail "--exact-reduce over $n hosts: $(hash_of "$work/exact$n.out"), one process: $(hash_of "$work/one2.out")"
done

"$hosts" mpirun -np 3 "${train[@]}" --epochs 2 --batch-size 128 --metrics "$work/fast.jsonl" >"$work/fast.out" 2>&1 ||
  fail "the fast mode over 3 hosts failed: $(tail -n 3 "$work/fast.out")"
agreed=$(tail -n 1 "$work/fast.jsonl" | grep -o '"rank_hashes":\[[^]]*\]' | grep -o '[0-9a-f]\{16\}' | sort -u | wc -l)
[[ "$agreed" == 1 ]] || fail "the fast mode's ranks ended with $agreed different weights"

# A checkpoint written under 3 hosts, resumed on 2 and on one process.
"$hosts" mpirun -np 3 "${train[@]}" --epochs 2 --exact-reduce --checkpoint-dir "$work/ck3" >/dev/null 2>&1 ||
  fail "the 3-host run with checkpoints failed"
"$hosts" mpirun -np 2 --host h1,h2 "${train[@]}" --epochs 4 --exact-reduce --resume "$work/ck3" \
  >"$work/resumed2.out" 2>&1 || fail "resuming on 2 hosts failed: $(tail -n 2 "$work/resumed2.out")"
"${train[@]}" --epochs 4 --resume "$work/ck3" >"$work/resumed1.out" 2>&1 || fail "resuming on one process failed"
for r in resumed2 resumed1; do
  [[ "$(hash_of "$work/$r.out")" == "$(hash_of "$work/one4.out")" ]] ||
    fail "$r: $(hash_of "$work/$r.out"), not the one-process $(hash_of "$work/one4.out")"
done

# The pid of `what` (ptrain or orted) on host $1.
pid_on() { "$hosts" pids "$1" | xargs -r ps -o pid=,comm= -p | awk -v w="$2" '$2 == w {print $1; exit}'; }

# A long exact run over 3 hosts, hurt by `inject` once its first checkpoint is written.
fault() {
  local name=$1 expect=$2 inject=$3 ck="$work/ck-$1"
  "$hosts" mpirun -np 3 "${train[@]}" --epochs 5000 --exact-reduce --checkpoint-dir "$ck" --checkpoint-every 1 \
    >"$work/$name.out" 2>"$work/$name.err" &
  local job=$! i
  for i in $(seq 200); do compgen -G "$ck/checkpoint-*" >/dev/null && break; sleep 0.1; done
  local start=$(date +%s%N)
  eval "$inject"
  for i in $(seq 400); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
  local took=$((($(date +%s%N) - start) / 1000000))
  if kill -0 "$job" 2>/dev/null; then
    fail "$name: the job still runs 40 s after the fault"
    kill -9 "$job"
  fi
  wait "$job"
  local status=$?
  echo "multihost: $name: ended with status $status after ${took} ms; $(grep -m1 "$expect" "$work/$name.err")"
  [[ $status -ne 0 ]] || fail "$name: the job ended with status 0"
  ((took <= 20000)) || fail "$name: the job took ${took} ms to end"
  grep -q "$expect" "$work/$name.err" || fail "$name: no line naming '$expect': $(head -c 600 "$work/$name.err")"
  [[ "$name" == link ]] && ip link set ptrv3 up
  local left=""
  for i in $(seq 150); do
    left=$(for h in h1 h2 h3; do pid_on "$h" ptrain; pid_on "$h" orted; done)
    [[ -z "$left" ]] && break
    sleep 0.1
  done
  [[ -z "$left" ]] || fail "$name: processes left on the hosts: $left"
  # The job may have trained many epochs before the fault ended it: resume to two past the newest.
  local newest epoch
  newest=$(compgen -G "$ck/checkpoint-*.safetensors" | sort | tail -n 1)
  epoch=$(head -c 8192 "$newest" | grep -ao '"epoch":"[0-9]*"' | grep -o '[0-9]\+')
  "${train[@]}" --epochs $((epoch + 2)) >"$work/$name-straight.out" 2>&1
  "${train[@]}" --epochs $((epoch + 2)) --resume "$ck" >"$work/$name-resumed.out" 2>&1 ||
    fail "$name: the checkpoint does not resume"
  [[ "$(hash_of "$work/$name-resumed.out")" == "$(hash_of "$work/$name-straight.out")" ]] ||
    fail "$name: resumed to $(hash_of "$work/$name-resumed.out") at epoch $((epoch + 2)), not the one-process" \
      "$(hash_of "$work/$name-straight.out")"
}

fault rank "rank 2 .* on node h3" 'kill -9 $(pid_on h3 ptrain)'
fault daemon "on node h2" 'kill -9 $(pid_on h2 orted)'
fault link "on node h3" 'ip link set ptrv3 down'
fault stop "rank 1 on h2: this process was paused" 'kill -STOP $(pid_on h2 ptrain)'

((failures == 0)) && echo "multihost: every check passed"
exit $((failures == 0 ? 0 : 1))
