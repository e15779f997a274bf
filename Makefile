# cgrpo: one `cgrpo` binary, a static library of everything but main, and one program per test.
#   make            build build/cgrpo and the tests          make test      build and run the tests
#   make sanitize   the tests under ASan + UBSan (build-san/) make bench     build the benchmarks
#   make fuzz       libFuzzer targets (clang)                 make clean
#   make fuzz-campaign SECONDS=N  run them all, N s each, table in docs/reliability.md
#   make MPI=1      build-mpi/ with mpicc: `mpirun -np N build-mpi/cgrpo train ...` (core/dist.h)
# Probes print what was found. OpenBLAS is required (the OpenMP build is preferred so that BLAS
# and our own loops share one thread pool); libpng, cJSON and libcurl (the http reward) are required.
CC      ?= gcc
BUILD   ?= build
# MPI=1: data-parallel training over MPI ranks (Open MPI: libopenmpi-dev), in its own build directory
ifeq ($(MPI),1)
  CC    := mpicc
  ifeq ($(origin BUILD),file)
    BUILD := build-mpi
  endif
  MPI_CFLAGS := -DCGRPO_MPI
endif
OPT     ?= -O2
SAN     ?=
CFLAGS_BASE = -std=c11 -g $(OPT) -Wall -Wextra -fopenmp -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
              -MMD -MP -Isrc $(SAN)
LDFLAGS_BASE = -fopenmp $(SAN)

# ---- probes --------------------------------------------------------------------------------------
OPENBLAS_OMP_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
ifneq ($(wildcard $(OPENBLAS_OMP_DIR)/libopenblas.so),)
  BLAS_CFLAGS := -I/usr/include/x86_64-linux-gnu/openblas-openmp
  BLAS_LIBS   := -L$(OPENBLAS_OMP_DIR) -Wl,-rpath,$(OPENBLAS_OMP_DIR) -lopenblas
  BLAS_KIND   := openblas-openmp
else
  BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
  BLAS_LIBS   := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
  BLAS_KIND   := openblas (pkg-config)
endif
PNG_CFLAGS  := $(shell pkg-config --cflags libpng 2>/dev/null)
PNG_LIBS    := $(shell pkg-config --libs libpng 2>/dev/null || echo -lpng)
JSON_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null || echo -I/usr/include/cjson)
JSON_LIBS   := $(shell pkg-config --libs libcjson 2>/dev/null || echo -lcjson)
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

CFLAGS  = $(CFLAGS_BASE) $(MPI_CFLAGS) $(BLAS_CFLAGS) $(PNG_CFLAGS) $(JSON_CFLAGS) $(CURL_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  = $(BLAS_LIBS) $(PNG_LIBS) $(JSON_LIBS) $(CURL_LIBS) -lm

# ---- sources -------------------------------------------------------------------------------------
LIB_SRCS  := $(sort $(wildcard src/*/*.c))
LIB_SRCS  := $(filter-out src/cli/main.c,$(LIB_SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:%.c=$(BUILD)/%)
BENCH_SRCS := $(sort $(wildcard bench/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)

.PHONY: all test sanitize bench fuzz clean probe
all: probe $(BUILD)/cgrpo $(TEST_BINS)

probe:
	@echo "cgrpo build: CC=$(CC) BUILD=$(BUILD) BLAS=$(BLAS_KIND) OpenMP=yes libpng=$(if $(PNG_LIBS),yes,no) cJSON=yes libcurl=$(if $(shell pkg-config --exists libcurl && echo y),yes,no) MPI=$(if $(MPI_CFLAGS),yes,no)$(if $(SAN), SAN='$(SAN)')"

$(BUILD)/libcgrpo.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/cgrpo: $(BUILD)/src/cli/main.o $(BUILD)/libcgrpo.a
	$(CC) $(LDFLAGS_BASE) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libcgrpo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libcgrpo.a $(LDFLAGS_BASE) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libcgrpo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libcgrpo.a $(LDFLAGS_BASE) $(LDLIBS)

# The test suite: unit programs and CLI scripts, with a closing "N passed, N failed" line.
# Passive waiting: OpenMP threads sleep at barriers instead of spinning, so tests stay fast on a
# machine whose cores are shared (spinning made 2 threads 5x slower than 1 under load).
test: all
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} bash tests/run.sh $(BUILD)

# Same tests under AddressSanitizer + UndefinedBehaviorSanitizer, in their own build directory.
# -O1 keeps them fast enough; UB aborts the program so a report can never scroll by unnoticed.
sanitize:
	$(MAKE) BUILD=build-san OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

bench: probe $(BENCH_BINS)

# libFuzzer targets (tests/fuzz_*.c), clang, with coverage on the whole library; seed corpora in
# tests/fuzz/<target>/, dictionaries tests/fuzz_<target>.dict, fixed crash inputs in
# tests/fuzz/regress/<target>/ (replayed by tests/test_fuzz_replay.c in the normal suite):
#   make fuzz && build-fuzz/fuzz_safetensors -dict=tests/fuzz_safetensors.dict -max_total_time=120 \
#       build-fuzz/corpus/safetensors tests/fuzz/safetensors
#   make fuzz-campaign SECONDS=N   every target for N seconds; writes docs/reliability.md's table
FUZZ_SRCS := $(sort $(wildcard tests/fuzz_*.c))
SECONDS ?= 60
.PHONY: fuzz-campaign
fuzz-campaign: fuzz
	bash scripts/fuzz_campaign.sh $(SECONDS) $(notdir $(FUZZ_SRCS:.c=))

fuzz:
	$(MAKE) CC=clang BUILD=build-fuzz OPT=-O1 \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  build-fuzz/libcgrpo.a
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  echo "clang $$f -> build-fuzz/$$n"; \
	  clang -std=c11 -g -O1 -Isrc $(JSON_CFLAGS) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	    $$f build-fuzz/libcgrpo.a -fopenmp $(LDLIBS) -o build-fuzz/$$n || exit 1; done

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
