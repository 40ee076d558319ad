// The chat page served at GET /: chat_page.html beside this header, compiled
// into the binary at build time (embed_file.cmake), self-contained (no CDN):
// it lists models from /v1/models, streams /v1/chat/completions, and shows
// tokens per second.
#pragma once
#include <string_view>

namespace qinfer::serve {

std::string_view chat_page_html();
inline constexpr const char* kChatPageContentType = "text/html; charset=utf-8";

}  // namespace qinfer::serve
