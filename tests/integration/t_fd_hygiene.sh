#!/bin/bash
# A rank starts with stdin, stdout and stderr only: descriptors rlaunch
# inherited without close-on-exec (a shell's "exec 7>file", a scheduler's
# sockets) and rlaunch's own (the control pipe, log files) stay behind.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# Each rank's shell lists its own descriptors from a child (ls opens its
# directory in itself, not in the shell); the list reaches the log file
# through stdout, as a redirection would make dash save a descriptor.
# "; exit 0" keeps the shell from exec'ing ls in its place.
# shellcheck disable=SC2016 # expanded by the rank's shell
list='ls -1 /proc/$$/fd; exit 0'

: >"$T/inherited"
exec 7>>"$T/inherited"
CUDA_VISIBLE_DEVICES=0,1,2 rl --no-prefix --log-dir "$T/logs" -- sh -c "$list" 2>"$T/err" >/dev/null
rc=$?
exec 7>&-
assert_eq "$rc" 0 "rlaunch exit status"
for r in 0 1 2; do
	f="$T/logs/rank$r.log"
	[ -f "$f" ] || die "rank $r wrote no log: $(cat "$T/err")"
	assert_eq "$(sort -n "$f" | tr '\n' ' ')" "0 1 2 " "descriptors open in rank $r"
done
assert_no_leftovers
pass
