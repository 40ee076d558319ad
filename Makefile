# The two commands: `make run` and `make test` (see README.md).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test model bench clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

model: deps
	@bash scripts/default-model.sh >/dev/null

# The main job on the default model (until `qinfer optimize` exists: a short story).
run: build
	QINFER_MODEL="$$(bash scripts/default-model.sh)" ./$(BUILD)/qinfer run -p "Once upon a time" -n 128 --temp 0

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 1200

bench: build
	./$(BUILD)/bench/qinfer_bench_kernels --benchmark_min_time=0.2

clean:
	rm -rf $(BUILD)
