// q8_0_dots_avxvnni: x86/attention_q8_0_avx2.cpp compiled again for CPUs with AVX-VNNI (see there).
#define BITNET_ATTENTION_Q8_0_AVXVNNI 1
#include "kernels/x86/attention_q8_0_avx2.cpp"
