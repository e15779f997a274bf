# cli_load.sh: a small version of scripts/load_test.sh (issue 23, part 5): 50 `cgrpo score` and 10
# `cgrpo sample` calls back to back, each exiting 0 with the same output. The full 1000 + 100 run
# and its figures are in docs/reliability.md.
exec bash "$(dirname "$0")/../scripts/load_test.sh" 50 10
