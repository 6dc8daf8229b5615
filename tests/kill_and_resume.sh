#!/usr/bin/env bash
# SIGKILL at random moments of a run with --checkpoint-every, resuming each time from the newest
# checkpoint with another thread count: the final weights_hash must equal an uninterrupted run's.
# usage: kill_and_resume.sh PTRAIN MAKE_FAKE_MNIST [SEED]
set -euo pipefail
ptrain=$1
make_data=$2
RANDOM=${3:-$$}
echo "kill_and_resume: random seed ${RANDOM}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$make_data" "$work/mnist" 20000 1000
args=(--data-dir "$work/mnist" --batch-size 32 --epochs 10 --quiet)
"$ptrain" "${args[@]}" --threads 2 --metrics "$work/straight.jsonl" >/dev/null
want=$(tail -n 1 "$work/straight.jsonl" | grep -o '"weights_hash":"[0-9a-f]*"')

kills=0
for attempt in 1 2 3 4 5 6; do
  resume=()
  if compgen -G "$work/ck/checkpoint-*.safetensors" >/dev/null; then resume=(--resume "$work/ck"); fi
  "$ptrain" "${args[@]}" --threads $((attempt % 3 + 1)) --checkpoint-dir "$work/ck" "${resume[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 50 + 5))"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
done

resume=()
if compgen -G "$work/ck/checkpoint-*.safetensors" >/dev/null; then resume=(--resume "$work/ck"); fi
"$ptrain" "${args[@]}" --threads 3 --checkpoint-dir "$work/ck" "${resume[@]}" --metrics "$work/final.jsonl" >/dev/null
got=$(tail -n 1 "$work/final.jsonl" | grep -o '"weights_hash":"[0-9a-f]*"')
echo "kill_and_resume: ${kills} runs killed with SIGKILL, $(ls "$work/ck" | wc -l) checkpoints; straight ${want}, resumed ${got}"
[[ "$got" == "$want" ]]
