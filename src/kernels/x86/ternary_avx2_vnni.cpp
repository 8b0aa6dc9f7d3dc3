// ternary_matmul_avx2_vnni: x86/ternary_avx2.cpp compiled again for CPUs with AVX-VNNI (see there).
#define BITNET_TERNARY_AVXVNNI 1
#include "kernels/x86/ternary_avx2.cpp"
