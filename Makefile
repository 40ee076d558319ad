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

# The main job on the default model: quantize, measure, compare, report.
run: build
	./$(BUILD)/qinfer optimize "$$(bash scripts/default-model.sh)"

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 1200

bench: build
	./$(BUILD)/bench/qinfer_bench_kernels --benchmark_min_time=0.2

clean:
	rm -rf $(BUILD)
