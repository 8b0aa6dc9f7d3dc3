list(APPEND BITNET_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_fixture_models.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_cli.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_chat_api.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_batch_api.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_kv_cache.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_cli_chat.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_synth.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_cli_bench.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_demo_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_hot_path_alloc.cpp
)
