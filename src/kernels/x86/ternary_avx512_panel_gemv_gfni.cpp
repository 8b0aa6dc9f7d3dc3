// ternary_gemv_panels_avx512_gfni: x86/ternary_avx512_panel_gemv.cpp compiled again for CPUs with GFNI (see there).
#define BITNET_TERNARY_GFNI 1
#include "kernels/x86/ternary_avx512_panel_gemv.cpp"
