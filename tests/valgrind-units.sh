#!/bin/bash
# Valgrind memcheck over the unit tests: zero errors and zero definite or
# indirect leaks. test_ofi is left out: it runs libfabric in child
# processes, whose provider keeps allocations for the life of the process.
#   tests/valgrind-units.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: tests/valgrind-units.sh BUILD_DIR}
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
status=0
for t in "$build"/tests/test_*; do
	[ "$(basename "$t")" = test_ofi ] && continue
	if valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$t" >/dev/null 2>"$build/valgrind-$(basename "$t").log"; then
		echo "valgrind $(basename "$t"): clean"
	else
		echo "valgrind $(basename "$t"): FAILED"
		cat "$build/valgrind-$(basename "$t").log"
		status=1
	fi
done
exit "$status"
