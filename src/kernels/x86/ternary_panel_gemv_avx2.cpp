// ternary_gemv_panels_avx2: x86/ternary_panel_gemv_avxvnni.cpp compiled again for AVX2 without AVX-VNNI (see there).
#define BITNET_PANEL_GEMV_MADDUBS 1
#include "kernels/x86/ternary_panel_gemv_avxvnni.cpp"
