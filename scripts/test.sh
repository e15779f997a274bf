#!/usr/bin/env bash
# test.sh: install dependencies, build, run the whole test suite, then run it again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Ends with the line "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
source scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs" all >/tmp/cgrpo-build.log 2>&1 || { tail -n 40 /tmp/cgrpo-build.log; exit 1; }
if grep -q 'warning:' /tmp/cgrpo-build.log; then grep 'warning:' /tmp/cgrpo-build.log; echo "build has warnings" >&2; exit 1; fi
# the MPI build of the binary (build-mpi/cgrpo, mpicc), which tests/cli_mpi.sh runs under mpirun
make -j"$jobs" MPI=1 build-mpi/cgrpo >/tmp/cgrpo-mpi-build.log 2>&1 || { tail -n 40 /tmp/cgrpo-mpi-build.log; exit 1; }
if grep -q 'warning:' /tmp/cgrpo-mpi-build.log; then grep 'warning:' /tmp/cgrpo-mpi-build.log; echo "MPI build has warnings" >&2; exit 1; fi
export CGRPO_MPI_REQUIRED=1
echo "== tests (-O2) =="
make --no-print-directory test | tail -n 60 | tee /tmp/cgrpo-test.log
echo "== tests under ASan + UBSan =="
make --no-print-directory -j"$jobs" BUILD=build-san OPT=-O1 \
  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all >/tmp/cgrpo-san-build.log 2>&1 \
  || { tail -n 40 /tmp/cgrpo-san-build.log; exit 1; }
make --no-print-directory sanitize | tail -n 60 | tee /tmp/cgrpo-san.log
# one closing line over both runs
p1=$(tail -n 1 /tmp/cgrpo-test.log | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p')
f1=$(tail -n 1 /tmp/cgrpo-test.log | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p')
p2=$(tail -n 1 /tmp/cgrpo-san.log | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p')
f2=$(tail -n 1 /tmp/cgrpo-san.log | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p')
if [ -z "$p1" ] || [ -z "$p2" ]; then echo "a test run printed no summary" >&2; echo "0 passed, 1 failed"; exit 1; fi
echo "$((p1 + p2)) passed, $((f1 + f2)) failed"
[ $((f1 + f2)) -eq 0 ]
