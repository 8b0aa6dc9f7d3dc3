list(APPEND BITNET_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/ref/ternary_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ref/float_ref.cpp
)
