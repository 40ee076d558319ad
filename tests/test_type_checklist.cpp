// The steps of adding a tensor type (quant/type_registry.h) that can be
// checked mechanically: every registered row agrees with the kernels and the
// file types, so a step left out fails here rather than in a model.
#include <gtest/gtest.h>

#include <set>

#include "qinfer/kernels/kernels.h"
#include "qinfer/model/file_types.h"
#include "qinfer/quant/bnb4.h"
#include "qinfer/quant/type_registry.h"

using namespace qinfer;

namespace {
std::vector<const TypeInfo*> registered() {
  size_t n = 0;
  const TypeInfo* const* all = all_types(&n);
  return {all, all + n};
}
}  // namespace

// A type with a kernel dots with activations of its vec_dot_type, which must
// be registered and convertible (step 4).
TEST(TypeChecklist, EveryKernelTypeHasItsActivationConverter) {
  int with_kernel = 0;
  for (const TypeInfo* t : registered()) {
    if (!kernels::has_kernel(t->id)) continue;
    ++with_kernel;
    const TypeInfo* act = find_type(t->vec_dot_type);
    ASSERT_NE(act, nullptr) << t->name << ": vec_dot_type is not registered";
    EXPECT_EQ(t->block_size % act->block_size, 0) << t->name << ": rows must split into whole activation blocks";
    std::vector<float> x(size_t(t->block_size), 0.5f);
    std::vector<uint8_t> a(row_size(act->id, t->block_size));
    EXPECT_NO_THROW(kernels::convert_activations(act->id, x.data(), a.data(), t->block_size)) << t->name;
  }
  EXPECT_GE(with_kernel, 14);
}

// Every file type (quantize targets, what create/convert write) is made of
// registered types that the engine can run (steps 3-5).
TEST(TypeChecklist, EveryFileTypeRuns) {
  std::set<int64_t> numbers;
  for (const FileTypeInfo& ft : file_types()) {
    // A storage-only type (double-quantized NF4/FP4) runs as the type the
    // loader expands it to, and is written by its own tensor-wide quantizer.
    const bool dq = is_double_quant(ft.base);
    const TypeInfo* base = find_type(dq ? double_quant_base(ft.base) : ft.base);
    ASSERT_NE(base, nullptr) << ft.name;
    EXPECT_TRUE(kernels::has_kernel(base->id)) << ft.name << ": no kernel for " << base->name;
    EXPECT_TRUE(base->from_float || base->quantize) << ft.name << ": " << base->name << " cannot be written";
    EXPECT_TRUE(numbers.insert(int64_t(ft.ftype)).second) << ft.name << ": general.file_type number used twice";
    EXPECT_EQ(find_file_type(int64_t(ft.ftype)), &ft);
    EXPECT_EQ(find_file_type(ft.name), &ft);
    if (ft.uniform) {
      EXPECT_EQ(&uniform_file_type(ft.base), &ft) << ft.name;
    }
  }
}

// A type that can be quantized to can be read back (step 1).
TEST(TypeChecklist, WritableTypesReadBack) {
  for (const TypeInfo* t : registered()) {
    if (!t->from_float) continue;
    std::vector<float> x(size_t(t->block_size)), y(x.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) - 3.0f;
    std::vector<uint8_t> q(row_size(t->id, t->block_size));
    t->from_float(x.data(), q.data(), t->block_size);
    t->to_float(q.data(), y.data(), t->block_size);
    double err = 0, norm = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (x[i] - y[i]) * (x[i] - y[i]);
      norm += x[i] * x[i];
    }
    EXPECT_LT(err, 0.25 * norm) << t->name << ": dequantize(quantize(x)) is far from x";
  }
}
