list(APPEND BITNET_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_ternary_types.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_to_ternary.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_dense.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_float_ternary.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_q6_k.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_q8_q4.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_q8_k.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_tensor.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_quant_tl.cpp
)
