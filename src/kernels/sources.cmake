list(APPEND BITNET_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/ref/ternary_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ref/float_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ref/kquant_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ref/attention_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ternary.cpp
  ${CMAKE_CURRENT_LIST_DIR}/float_rows.cpp
  ${CMAKE_CURRENT_LIST_DIR}/attention.cpp
  ${CMAKE_CURRENT_LIST_DIR}/x86/float_rows_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/x86/kquant_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/x86/kquant_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/x86/attention_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/x86/act_quant_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/x86/ternary_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/x86/ternary_avx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/arm/ternary_neon.cpp
  ${CMAKE_CURRENT_LIST_DIR}/arm/kquant_neon.cpp
)
