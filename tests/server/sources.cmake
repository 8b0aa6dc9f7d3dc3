list(APPEND BITNET_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_stop_text.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_server_http.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_server_hostile.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_server_openai_node.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_server_cli.cpp
)
