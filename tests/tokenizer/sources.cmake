list(APPEND BITNET_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/test_chat_template.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_spm_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_bpe.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_bpe_rules.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_llama2c.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_spm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_vocab.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_token_tables.cpp
)
