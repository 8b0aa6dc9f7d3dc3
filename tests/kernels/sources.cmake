list(APPEND BITNET_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_ternary_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_ternary_parity.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_float_rows.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_kquant.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_attention.cpp
)
