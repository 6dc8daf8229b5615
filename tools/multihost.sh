#!/usr/bin/env bash
# Simulated hosts on one machine, for running ptrain under Open MPI over a real network stack (as
# root): host hK is network namespace ptrain-hK, 10.77.0.K on a veth pair to a bridge, with its
# own hostname (each command enters a UTS namespace of its own, so Open MPI's daemons do not
# share one session folder) and /etc/hosts naming every host.
#   multihost.sh up N            N hosts (anything left by an earlier run is removed first)
#   multihost.sh down            removes every host, killing what runs on them
#   multihost.sh mpirun ARGS…    tools/ptrain-mpirun on h1, over the hosts (a hostfile of one slot each)
#   multihost.sh on HOST CMD…    CMD on HOST
#   multihost.sh pids HOST       the processes running on HOST
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix=ptrain-h
bridge=ptrainbr0
subnet=10.77.0
state=/run/ptrain-multihost

hosts_up() { ip netns list 2>/dev/null | awk -v p="$prefix" 'index($1, p) == 1 {print substr($1, length(p) + 1)}' | sort -n; }

down() {
  for k in $(hosts_up); do
    ip netns pids "$prefix$k" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$prefix$k" 2>/dev/null || true
    rm -rf "/etc/netns/$prefix$k"
  done
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$state"
}

up() {
  local n=$1
  down
  mkdir -p "$state"
  ip link add "$bridge" type bridge
  ip link set "$bridge" up
  {
    echo "127.0.0.1 localhost"
    for k in $(seq "$n"); do echo "$subnet.$k h$k"; done
  } >"$state/hosts"
  for k in $(seq "$n"); do
    ip netns add "$prefix$k"
    ip link add "ptrv$k" type veth peer name eth0 netns "$prefix$k"
    ip link set "ptrv$k" master "$bridge" up
    ip -n "$prefix$k" addr add "$subnet.$k/24" dev eth0
    ip -n "$prefix$k" link set eth0 up
    ip -n "$prefix$k" link set lo up
    mkdir -p "/etc/netns/$prefix$k"  # ip netns exec mounts these over /etc
    cp "$state/hosts" "/etc/netns/$prefix$k/hosts"
    echo "h$k slots=1" >>"$state/hostfile"
  done
}

# CMD on host $1 under its own hostname.
on() {
  local host=$1
  shift
  exec ip netns exec "$prefix${host#h}" unshare --uts sh -c 'hostname "$1"; shift; exec "$@"' sh "$host" "$@"
}

case "${1:-}" in
  up) up "${2:?up N}" ;;
  down) down ;;
  on) shift; on "$@" ;;
  pids) ip netns pids "$prefix${2#h}" ;;
  mpirun)
    shift
    on h1 "$here/ptrain-mpirun" --allow-run-as-root --hostfile "$state/hostfile" \
      --mca plm_rsh_agent "$here/multihost_agent.sh" --mca oob_tcp_if_include "$subnet.0/24" \
      --mca btl_tcp_if_include "$subnet.0/24" --mca btl self,tcp "$@"
    ;;
  *) echo "usage: multihost.sh up N | down | mpirun ARGS… | on HOST CMD… | pids HOST" >&2; exit 2 ;;
esac
