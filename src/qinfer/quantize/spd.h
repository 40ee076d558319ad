// Dense symmetric positive-definite algebra in float64 for the calibrated
// quantizers: Cholesky factors of a Hessian and of its inverse. Matrices are
// n×n, row-major, in std::vector<double>.
#pragma once
#include <cstdint>
#include <vector>

namespace qinfer {

// In place: the lower triangle of a becomes L with a = L·Lᵀ (the strict upper
// triangle is zeroed). False when a is not positive definite (a pivot ≤ 0 or
// not finite); a is then left partly overwritten.
bool cholesky_lower(std::vector<double>& a, int64_t n);

// In place: x (n values, b on entry) becomes the solution of L·Lᵀ·x = b, with
// l from cholesky_lower (forward, then back substitution).
void cholesky_solve(const std::vector<double>& l, int64_t n, double* x);

// U, upper triangular, with H⁻¹ = Uᵀ·U (GPTQ's "Cholesky of the inverse
// Hessian", rows of U drive the error feedback). Computed without forming
// H⁻¹: with P the reversal permutation and P·H·P = L'·L'ᵀ, U = P·L'⁻¹·P.
// False when h is not positive definite.
bool inverse_cholesky_upper(const std::vector<double>& h, int64_t n, std::vector<double>& u);

}  // namespace qinfer
