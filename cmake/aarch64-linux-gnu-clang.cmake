# The aarch64 cross build with clang instead of GCC (the same sysroot, libraries and qemu-user runner as
# aarch64-linux-gnu.cmake): clang targets aarch64 itself and links with the cross toolchain's binutils.
include(${CMAKE_CURRENT_LIST_DIR}/aarch64-linux-gnu.cmake)
set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_C_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_CXX_COMPILER_TARGET aarch64-linux-gnu)
