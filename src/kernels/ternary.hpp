// Ternary matmul kernels with run-time ISA dispatch. Every kernel computes the exact integer dot products
// of the scalar reference (kernels/ref/ternary_ref.hpp) and applies the same float epilogue, so outputs are
// bit-equal across ISA levels. Activations are quantized once per matmul; kernels read them in natural order.
#pragma once

#include <cstdint>
#include <vector>

#include "core/cpu_features.hpp"
#include "kernels/ref/ternary_ref.hpp"
#include "quant/ternary.hpp"

namespace bitnet::kernels {

// Activations ready for a ternary kernel.
struct PreparedActs {
  QuantizedActs qa;
  std::vector<int32_t> sums;  // [n_tokens][cols/group]: sum of q over each scale group
  // On aarch64 CPUs with i8mm, for 2 tokens or more: q over the whole 128-column blocks (full = cols / 128 * 128
  // columns) again, tokens zipped in pairs 8 columns at a time, the right operands of the i8mm kernel's smmla: pair p's
  // run k (columns 8k..8k+7) at (p * full + 8k) * 2, token 2p's 8 bytes then token 2p + 1's (an odd last token's
  // twice). Written with q (code that changes q directly must rewrite them), so that every call of that kernel (one
  // per 64 rows in the FFN) reads them as they are. Else empty.
  std::vector<int8_t> pairs;
};

// Quantizes x[n_tokens][cols] by `rule` and sums each scale group (kernels sum code * q, then subtract).
void prepare_acts(quant::ActQuant rule, const float* x, int64_t n_tokens, int64_t cols, PreparedActs& out);
// The same in two steps, for threads: size `out`, then prepare tokens [t_begin, t_end) (x points at token 0).
void size_prepared_acts(quant::ActQuant rule, int64_t n_tokens, int64_t cols, PreparedActs& out);
void prepare_acts_rows(const float* x, int64_t t_begin, int64_t t_end, PreparedActs& out);
// Token t alone, from its row wherever it lies (row: cols floats; a sized `out`), as prepare_acts_rows does it.
void prepare_acts_token(const float* row, int64_t t, PreparedActs& out);

using TernaryMatmulFn = void (*)(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                                 int64_t row_begin, int64_t row_end);

struct TernaryKernel {
  IsaLevel isa;
  TernaryMatmulFn matmul;
};

// The best kernel at or below `level` that this build and CPU have.
const TernaryKernel& ternary_kernel(IsaLevel level);

// Whether a loader should put m in the panel layout (quant::to_panels): m fits (quant::panels_fit) with at most 256
// groups a row, and the AVX-512 kernels are active (groups of at most kPanelGemvMaxGroup columns), or the AVX2 level is
// (with or without AVX-VNNI) and m has one scale a row (the per-token rule) or a scale per 256 columns (the Q8_K rule:
// TQ1_0, TQ2_0). Kernels of every level take either layout (the others through the reference).
bool ternary_wants_panels(const quant::TernaryMatrix& m);
// Whether a loader should put m in the dense panel layout (quant::to_dense_panels) instead: where it would take
// panels at the AVX-512 level, quant::dense_fit(m), and the CPU has AVX-512 VBMI (the decode's byte permutes). Kernels
// of every level take it (the others, and the AVX-512 level without VBMI, through the reference).
bool ternary_wants_dense(const quant::TernaryMatrix& m);

// This thread's scratch for kernels' rearranged weights: at least `bytes` bytes, 64-byte aligned, kept (and only
// grown, never freed) for its next calls: a chunk of rows' worth, a few hundred KB. Defined outside the kernels' target pragmas, so no library code is compiled for their ISA (a std::vector
// member instantiated under an AVX-512 target could be the copy the linker keeps for every caller).
uint8_t* kernel_scratch(size_t bytes);

// Rows [row_begin, row_end) as the panel kernels take them: [begin, end) the whole 16-row panels within (begin ==
// end where there are none); the rows before and after go to the reference (callers split at multiples of 64, tests
// need not). Static: each kernel file compiles its own copy for its target.
struct PanelRowSpan {
  int64_t begin, end;
};
static constexpr PanelRowSpan whole_panel_rows(int64_t row_begin, int64_t row_end) {
  const int64_t up = (row_begin + quant::kPanelRows - 1) / quant::kPanelRows * quant::kPanelRows;
  const int64_t begin = up < row_end ? up : row_end;
  const int64_t down = row_end / quant::kPanelRows * quant::kPanelRows;
  return {begin, down > begin ? down : begin};
}

// Per-ISA implementations (x86/ files); declared here so the dispatcher and the parity tests see them.
void ternary_matmul_scalar(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                           int64_t row_begin, int64_t row_end);
#if defined(__x86_64__)
// quantize_row_absmax_ref, bit-equal (used by prepare_acts_token at ISA level AVX2).
float quantize_row_absmax_avx2(const float* x, int64_t n, int8_t* q);
// The same at ISA level AVX-512 (x86/act_quant_avx512.cpp), also writing the sum of the row's codes to *sum.
float quantize_row_absmax_avx512(const float* x, int64_t n, int8_t* q, int32_t* sum);
void ternary_matmul_avx2(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                         int64_t row_begin, int64_t row_end);
// The same with AVX-VNNI's 256-bit vpdpbusd (x86/ternary_avx2_vnni.cpp): what the AVX2 level runs where the CPU has
// AVX-VNNI (CpuFeatures::avxvnni: Intel Alder Lake and later client CPUs, Sierra Forest; AMD Zen 5).
void ternary_matmul_avx2_vnni(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                              int64_t row_begin, int64_t row_end);
// Its kernel for fewer than 8 tokens against a matrix in panels (x86/ternary_panel_gemv_avxvnni.cpp): rows
// [row_begin, row_end) whole panels; one scale a row (group == cols) and the per-token rule, or the Q8_K rule.
void ternary_gemv_panels_avxvnni(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                                 int64_t row_begin, int64_t row_end);
// The same without AVX-VNNI (x86/ternary_panel_gemv_avx2.cpp): maddubs, int16 sums.
void ternary_gemv_panels_avx2(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                              int64_t row_begin, int64_t row_end);
void ternary_matmul_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                           int64_t row_begin, int64_t row_end);
// The same, its generation kernels decoding codes with GFNI (x86/ternary_avx512_gfni.cpp): what the AVX-512 level
// runs where the CPU has GFNI (CpuFeatures::gfni).
void ternary_matmul_avx512_gfni(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                                int64_t row_begin, int64_t row_end);
// The AVX-512 kernel for batches of kPanelMinTokens or more (x86/ternary_avx512_panels.cpp): rows rearranged into
// 16-row panels on the fly, or read as they are from a matrix in panels (whose row range must then be whole
// panels). Needs whole 128-column blocks and groups, or (rows rearranged here, one group a row) a tail of whole 16s
// after the blocks (_fits); falls back to the reference otherwise.
inline constexpr int64_t kPanelMinTokens = 8;
bool ternary_panels_avx512_fits(const quant::TernaryMatrix& w, const PreparedActs& a);
void ternary_matmul_panels_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                                  int64_t row_begin, int64_t row_end);
// Fewer tokens against a matrix in panels (x86/ternary_avx512_panel_gemv.cpp): rows [row_begin, row_end) whole
// panels, _fits, and groups of at most kPanelGemvMaxGroup columns (its int32 sums hold 64 x the dots of a quarter of
// a group; ternary_wants_panels leaves longer groups in rows).
inline constexpr int64_t kPanelGemvMaxGroup = int64_t{1} << 17;
void ternary_gemv_panels_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                                int64_t row_begin, int64_t row_end);
// Panel p of w (its weight scales and shape) times every token of a, its codes at `codes` in the panel layout (a
// panel decoded into scratch, in cache: not prefetched), as ternary_gemv_panels_avx512 computes it.
void ternary_gemv_panel_at_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, const uint8_t* codes, int64_t p,
                                  float* y, int64_t y_stride);
// Fewer tokens against a matrix in the dense panel layout (x86/ternary_avx512_dense.cpp, AVX-512 VBMI): rows
// [row_begin, row_end) whole panels, groups of at most kPanelGemvMaxGroup columns. One token decodes in registers;
// two or more, each panel once into a 2-bit panel in scratch that ternary_gemv_panel_at_avx512 reads per token.
void ternary_gemv_dense_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                               int64_t row_begin, int64_t row_end);
// Rows [row_begin, row_end) (whole panels) of a matrix in the dense panel layout, decoded into the panel layout at dst
// (16 * row_bytes() bytes a panel), for the prompt kernels (AVX-512 VBMI).
void ternary_dense_to_panels(const quant::TernaryMatrix& w, int64_t row_begin, int64_t row_end, uint8_t* dst);
// Rows [cb, ce) (at most a few panels) of w in the panel layout (x86/ternary_avx512_panels.cpp): where they lie for a
// matrix in panels; decoded at `scratch` from the dense panel layout; else rearranged at `scratch` (64-byte aligned:
// per panel 16 * row_bytes() bytes of codes, then, with groups > 1, 16 * groups scales), lanes past ce holding code 1
// (weight 0) and scale 0. With groups > 1, a panel's scales are group g's 16 side by side at scales + 16 g, panels 16 *
// groups floats apart.
struct PanelChunk {
  const uint8_t* codes;
  const float* scales;
};
PanelChunk ternary_panel_chunk(const quant::TernaryMatrix& w, int64_t cb, int64_t ce, uint8_t* scratch);
// Batches of kAmxMinTokens or more with AMX tiles (x86/ternary_avx512_amx.cpp; only where amx_active()): rows in
// 16-row panels as the panel kernel takes them (rows [row_begin, row_end) whole panels for a matrix in panels), each
// panel's codes widened to one byte per weight, then 16 tokens x 16 rows x 64 columns per tile instruction. Needs
// ternary_panels_avx512_fits; falls back to the reference otherwise.
inline constexpr int64_t kAmxMinTokens = 16;
void ternary_matmul_amx(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                        int64_t row_begin, int64_t row_end);
#endif
#if defined(__aarch64__)
void ternary_matmul_neon(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                         int64_t row_begin, int64_t row_end);
void ternary_matmul_neon_dot(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                             int64_t row_begin, int64_t row_end);
// Prompt batches (two tokens or more) with smmla, where the CPU has FEAT_I8MM (arm/ternary_neon_i8mm.cpp); one token
// goes to ternary_matmul_neon_dot.
void ternary_matmul_neon_i8mm(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                              int64_t row_begin, int64_t row_end);
#endif

}  // namespace bitnet::kernels
