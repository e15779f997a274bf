# deps.sh (sourced): install what cgrpo needs on Debian 12, only what is missing. Run as root.
# Build: gcc, make, pkg-config, OpenBLAS (OpenMP build), libpng, cJSON, libcurl (the http reward);
# the MPI build (make MPI=1, tests/cli_mpi.sh): Open MPI; fuzzing: clang. The http reward's tests
# also run python3 (tools/reward_server.py, standard library).
cgrpo_deps() {
    local pkgs="build-essential pkg-config libopenblas-openmp-dev libpng-dev libcjson-dev libcurl4-openssl-dev python3
                libopenmpi-dev openmpi-bin"
    local missing=""
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "cgrpo: installing:$missing"
        if [ "$(id -u)" -ne 0 ]; then echo "cgrpo: need root to apt-get install:$missing" >&2; return 1; fi
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || return 1
    fi
}
cgrpo_deps || { echo "cgrpo: dependency install failed" >&2; exit 1; }
