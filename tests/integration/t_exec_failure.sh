#!/bin/bash
# A command that cannot run is reported once, with its name, and rlaunch
# exits 127 (not found) or 126 (not executable), like a shell.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

CUDA_VISIBLE_DEVICES=0,1,2,3 rl --log-dir "$T/logs" -- no-such-command-xyz arg 2>"$T/err"
assert_eq "$?" 127 "not found"
assert_eq "$(grep -c "cannot run 'no-such-command-xyz': command not found" "$T/err")" 1 "reported once"
[ -e "$T/logs" ] && fail "log directory created although nothing started"

CUDA_VISIBLE_DEVICES=0 rl -- train.py 2>"$T/err"
assert_eq "$?" 127 "script name without interpreter"
assert_contains "$T/err" "python3 train.py" "hint for Python scripts"

printf 'echo hi\n' > "$T/noexec.sh"
CUDA_VISIBLE_DEVICES=0,1 rl -- "$T/noexec.sh" 2>"$T/err"
assert_eq "$?" 126 "not executable"
assert_contains "$T/err" "permission denied" "reason"

CUDA_VISIBLE_DEVICES=0 rl -- "$T" 2>"$T/err"
assert_eq "$?" 126 "a directory"

# only execve can tell: the interpreter of a script is missing. The worker
# stage reports it over the control pipe; the message appears once.
printf '#!/nonexistent/python9\n' > "$T/badinterp"
chmod +x "$T/badinterp"
CUDA_VISIBLE_DEVICES=0,1,2 rl --max-restarts 3 -- "$T/badinterp" 2>"$T/err"
assert_eq "$?" 127 "missing interpreter"
assert_eq "$(grep -c "cannot run '$T/badinterp'" "$T/err")" 1 "reported once"
assert_not_contains "$T/err" "restarting" "an exec failure is not retried"
assert_no_leftovers
pass
