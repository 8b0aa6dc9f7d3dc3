// BITNET_VECTOR_CLONES: compile a plain C++ loop function for AVX-512, AVX2 and the baseline, the copy picked
// by the CPU at load time (target_clones: GCC, and clang from 14). Only for element-wise or fixed-order code:
// each clone performs the same IEEE operations in the same order (no FMA contraction: -ffp-contract=off), so every
// copy gives the same bits and the choice, which ignores BITNET_ISA, cannot change results. Elsewhere it expands
// to nothing.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && (!defined(__clang__) || __clang_major__ >= 14)
#define BITNET_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BITNET_VECTOR_CLONES
#endif
