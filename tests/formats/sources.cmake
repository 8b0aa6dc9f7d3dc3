list(APPEND BITNET_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_gguf_reader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_gguf_writer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_gguf_robust.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_gguf_tl.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_llama2c_robust.cpp
)
