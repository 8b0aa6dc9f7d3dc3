// q8_0_matmul_avxvnni: x86/kquant_avx2.cpp compiled again for CPUs with AVX-VNNI (see there).
#define BITNET_KQUANT_AVXVNNI 1
#include "kernels/x86/kquant_avx2.cpp"
