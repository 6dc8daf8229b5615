#!/usr/bin/env bash
# Open MPI's remote-shell agent for tools/multihost.sh's hosts: `agent HOST WORDS…` runs the
# words as the shell command line a remote shell would, in HOST's namespace under its hostname.
host=$1
shift
exec ip netns exec "ptrain-$host" unshare --uts sh -c 'hostname "$1"; eval "$2"' sh "$host" "$*"
