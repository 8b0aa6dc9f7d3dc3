// BITNET_TARGET_BEGIN("avx2,fma") ... BITNET_TARGET_END: compile the functions between them for those ISA
// extensions (the rest of the program keeps the baseline; the dispatcher calls them only where the CPU has them).
// GCC takes target pragmas; clang ignores those and takes an attribute applied to every function in the region
// instead. Include headers before BEGIN: a template instantiated inside the region gets the target too under GCC.
#pragma once

#define BITNET_TARGET_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define BITNET_TARGET_BEGIN(features) \
  BITNET_TARGET_PRAGMA(clang attribute push(__attribute__((target(features))), apply_to = function))
#define BITNET_TARGET_END BITNET_TARGET_PRAGMA(clang attribute pop)
#else
#define BITNET_TARGET_BEGIN(features) BITNET_TARGET_PRAGMA(GCC push_options) BITNET_TARGET_PRAGMA(GCC target(features))
#define BITNET_TARGET_END BITNET_TARGET_PRAGMA(GCC pop_options)
#endif
