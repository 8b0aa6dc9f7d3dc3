# Cross-compiling for aarch64 Linux with Debian's g++-aarch64-linux-gnu; tests run under qemu-user
# (ctest and gtest_discover_tests use CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Static executables: qemu runs them without a sysroot, and the multiarch arm64 glibc that libpcre2-dev:arm64
# brings cannot get mixed with the cross toolchain's (that mix hangs in pthread_create).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
# header-only packages (nlohmann-json, CLI11) install their CMake configs for the host: allow them
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# GoogleTest has no aarch64 library package installed: build it from Debian's source package
set(BITNET_GTEST_FROM_SOURCE ON CACHE BOOL "" FORCE)
# PCRE2 for arm64 comes from Debian multiarch (libpcre2-dev:arm64, installed by scripts/setup.sh)
set(PCRE2_LIBRARY /usr/lib/aarch64-linux-gnu/libpcre2-8.a CACHE FILEPATH "")
