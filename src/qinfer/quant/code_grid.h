// The values each element of a quantized block can take once the block's
// parameters (scales, mins) are fixed, and the way back: writing codes chosen
// elsewhere into the block. Calibrated quantizers (GPTQ) fix a block's
// parameters with the type's own quantizer, then choose every code themselves;
// the block stays a valid block of its type, so files load anywhere the type does.
#pragma once
#include <cmath>
#include <cstdint>

#include "qinfer/quant/type_id.h"

namespace qinfer {

// Element value for code c: base + step · c, c in 0..max_code. step may be
// negative or zero (a zero block: every code gives base).
struct ElementGrid {
  float base = 0;
  float step = 0;
};

struct CodeGrid {
  TypeId type;
  int max_code;  // codes are 0..max_code for every element of the type
  // Stores block_size codes (one per element, in element order) into a block
  // whose parameters are already set; the parameters are left as they are.
  void (*write_codes)(void* block, const uint8_t* codes);
  // The block's float parameters (fp16 scale, min), at most kMaxGridParams:
  // with codes and integer sub-scales fixed, every element's value is linear
  // in them, so they can be refitted by least squares once the codes are
  // chosen. set_params stores them rounded as the type stores them;
  // get_params reads them back.
  int n_params;
  void (*set_params)(void* block, const float* params);
  void (*get_params)(const void* block, float* params);
};

constexpr int kMaxGridParams = 2;

// The value of every element (block_size entries) per unit of parameter p:
// the block dequantized with parameter p = 1 and the others 0. Element values
// are Σ_p params[p] · basis[p][i].
void read_param_basis(const CodeGrid& grid, const void* block, float* basis /* n_params × block_size */);

// nullptr when the type's values are not an affine function of an integer
// code (float types, IQ4_NL's codebook, ...).
const CodeGrid* find_code_grid(TypeId type);

// The grid of every element of one block (block_size entries), read by
// dequantizing the block with all codes 0 and all codes 1, so it is the
// type's own dequantization arithmetic.
void read_element_grids(const CodeGrid& grid, const void* block, ElementGrid* out);

// The code whose value is nearest to v (clamped to the grid).
inline int nearest_code(const ElementGrid& g, int max_code, float v) {
  if (g.step == 0.0f) return 0;
  const float c = std::nearbyint((v - g.base) / g.step);
  return c <= 0.0f ? 0 : c >= float(max_code) ? max_code : int(c);
}

inline float code_value(const ElementGrid& g, int code) { return g.base + g.step * float(code); }

}  // namespace qinfer
