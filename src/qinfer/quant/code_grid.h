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
};

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
