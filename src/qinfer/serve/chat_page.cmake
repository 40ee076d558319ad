# chat_page.html becomes chat_page_html() (chat_page.h) in qinfer_serve,
# embedded again whenever the page changes; no file is needed beside the binary.
set(chat_page_src ${CMAKE_CURRENT_LIST_DIR}/chat_page.html)
set(chat_page_cpp ${CMAKE_CURRENT_BINARY_DIR}/generated/chat_page_html.cpp)
add_custom_command(OUTPUT ${chat_page_cpp}
  COMMAND ${CMAKE_COMMAND} -DINPUT=${chat_page_src} -DOUTPUT=${chat_page_cpp}
          -DNAME=qinfer::serve::chat_page_html -P ${CMAKE_CURRENT_LIST_DIR}/embed_file.cmake
  DEPENDS ${chat_page_src} ${CMAKE_CURRENT_LIST_DIR}/embed_file.cmake
  COMMENT "Embedding the chat page")
target_sources(qinfer_serve PRIVATE ${chat_page_cpp})
