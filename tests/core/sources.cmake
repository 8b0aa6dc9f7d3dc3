list(APPEND BITNET_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_core.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_mapped_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_huge_pages.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_huge_page_buffer.cpp
)
