#!/usr/bin/env bash
# Open MPI's remote-shell agent for tools/multihost.sh's hosts: `agent HOST WORDS…` runs the
# words as the shell command line a remote shell would, on HOST (multihost.sh on: its namespace,
# under its hostname).
host=$1
shift
exec "$(dirname "${BASH_SOURCE[0]}")/multihost.sh" on "$host" sh -c "$*"
