// Template source -> tokens, with jinja2's lexer rules as Hugging Face
// configures it: trim_blocks, lstrip_blocks, `-`/`+` whitespace control,
// {# comments #}, {% raw %}, newlines normalised to \n and one trailing
// newline dropped (keep_trailing_newline=False).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qinfer::jinja {

enum class TokenType : uint8_t { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, Eof };

struct Token {
  TokenType type;
  std::string text;  // data, name, decoded string, or the operator ("+", "//", ...)
  int64_t integer = 0;
  double number = 0;
  int line = 1;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Throws TemplateError(Syntax) with the line on a lexing error.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& options = {});

}  // namespace qinfer::jinja
