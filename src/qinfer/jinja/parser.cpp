#include "qinfer/jinja/parser.h"

#include "qinfer/jinja/fold.h"
#include "qinfer/jinja/passes.h"
#include "qinfer/jinja/scoping.h"

namespace qinfer::jinja {

namespace {

using namespace ast;

// Deeper nesting than this is refused (jinja2 itself hits Python's recursion limit earlier).
constexpr int kMaxDepth = 128;

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::Data: return "template data / text";
    case TokenType::VariableBegin: return "begin of print statement";
    case TokenType::VariableEnd: return "end of print statement";
    case TokenType::BlockBegin: return "begin of statement block";
    case TokenType::BlockEnd: return "end of statement block";
    case TokenType::Eof: return "end of template";
    default: return t.text;
  }
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Body parse_template() {
    Body body = subparse({});
    if (cur().type != TokenType::Eof) fail_here("unexpected " + describe(cur()));
    return body;
  }

 private:
  // ---- token stream ----
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t n = 1) const { return t_[std::min(i_ + n, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[i_];
    if (i_ + 1 < t_.size()) ++i_;
    return t;
  }
  bool is_op(const char* op) const { return cur().type == TokenType::Operator && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == TokenType::Name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail_here(const std::string& msg) const { throw TemplateError(ErrorKind::Syntax, msg, cur().line); }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail_here(std::string("expected token '") + op + "', got '" + describe(cur()) + "'");
  }
  void expect_name(const char* n) {
    if (!skip_name(n)) fail_here(std::string("expected token '") + n + "', got '" + describe(cur()) + "'");
  }
  std::string expect_identifier() {
    if (cur().type != TokenType::Name) fail_here("expected token 'name', got '" + describe(cur()) + "'");
    return next().text;
  }
  void expect(TokenType type) {
    if (cur().type != type) {
      Token want{type, "", 0, 0, 0};
      fail_here("expected token '" + describe(want) + "', got '" + describe(cur()) + "'");
    }
    next();
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) p_.fail_here("template nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  // ---- statements ----
  bool at_end_token(const std::vector<const char*>& end_tokens) const {
    if (cur().type != TokenType::Name) return false;
    for (const char* e : end_tokens)
      if (cur().text == e) return true;
    return false;
  }

  Body subparse(const std::vector<const char*>& end_tokens) {
    Body body;
    std::unique_ptr<Output> out;
    auto flush = [&]() {
      if (out) body.push_back(std::move(out));
    };
    while (cur().type != TokenType::Eof) {
      const Token& tok = cur();
      if (tok.type == TokenType::Data) {
        if (!out) out = std::make_unique<Output>(tok.line);
        out->parts.push_back({tok.text, nullptr});
        next();
      } else if (tok.type == TokenType::VariableBegin) {
        if (!out) out = std::make_unique<Output>(tok.line);
        next();
        out->parts.push_back({"", parse_tuple(TupleOptions{})});
        expect(TokenType::VariableEnd);
      } else if (tok.type == TokenType::BlockBegin) {
        flush();
        next();
        if (!end_tokens.empty() && at_end_token(end_tokens)) return body;
        body.push_back(parse_statement());
        expect(TokenType::BlockEnd);
      } else {
        fail_here("unexpected " + describe(tok));
      }
    }
    flush();
    if (!end_tokens.empty()) {
      std::string want;
      for (const char* e : end_tokens) want += std::string(want.empty() ? "" : " or ") + "'" + e + "'";
      fail_here("Unexpected end of template. Jinja was looking for the following tags: " + want + ".");
    }
    return body;
  }

  Body parse_statements(const std::vector<const char*>& end_tokens, bool drop_needle) {
    DepthGuard guard(*this);
    skip_op(":");
    expect(TokenType::BlockEnd);
    Body body = subparse(end_tokens);
    if (drop_needle) next();
    return body;
  }

  StmtPtr parse_statement() {
    if (cur().type != TokenType::Name) fail_here("tag name expected");
    const std::string name = cur().text;
    const int line = cur().line;
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "macro") return parse_macro();
    if (name == "call") return parse_call_block();
    if (name == "filter") return parse_filter_block();
    if (name == "with") return parse_with();
    if (name == "print") {
      next();
      auto out = std::make_unique<Output>(line);
      while (cur().type != TokenType::BlockEnd) {
        if (!out->parts.empty()) expect_op(",");
        out->parts.push_back({"", parse_expression()});
      }
      return out;
    }
    if (name == "break" || name == "continue") {
      next();
      if (loop_depth_ == 0) fail_here("'" + name + "' outside of a loop");
      return std::make_unique<LoopControl>(name == "break" ? StmtKind::Break : StmtKind::Continue, line);
    }
    if (name == "block") {
      next();
      const std::string block_name = expect_identifier();
      skip_name("scoped");
      skip_name("required");
      auto node = std::make_unique<Scoped>(line, true);
      node->body = parse_statements({"endblock"}, true);
      skip_name(block_name.c_str());
      return node;
    }
    if (name == "autoescape") {
      next();
      auto node = std::make_unique<Scoped>(line);
      parse_expression();
      node->body = parse_statements({"endautoescape"}, true);
      return node;
    }
    if (name == "generation") {  // Hugging Face's AssistantTracker tag
      next();
      auto node = std::make_unique<Scoped>(line);
      node->body = parse_statements({"endgeneration"}, true);
      return node;
    }
    if (name == "include" || name == "import" || name == "from" || name == "extends") {
      next();
      // Consume the rest of the tag; running it fails (no loader).
      while (cur().type != TokenType::BlockEnd && cur().type != TokenType::Eof) next();
      return std::make_unique<Unsupported>(name, line);
    }
    fail_here("Encountered unknown tag '" + name + "'.");
  }

  StmtPtr parse_if() {
    auto node = std::make_unique<If>(next().line);
    while (true) {
      TupleOptions o;
      o.with_condexpr = false;
      ExprPtr test = parse_tuple(o);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      node->branches.emplace_back(std::move(test), std::move(body));
      const std::string tag = next().text;
      if (tag == "elif") continue;
      if (tag == "else") node->otherwise = parse_statements({"endif"}, true);
      break;
    }
    return node;
  }

  StmtPtr parse_for() {
    auto node = std::make_unique<For>(next().line);
    node->target = parse_assign_target(true, false, {"in"});
    expect_name("in");
    TupleOptions o;
    o.with_condexpr = false;
    o.extra_end = {"recursive"};
    node->iterable = parse_tuple(o);
    if (skip_name("if")) node->filter = parse_expression();
    node->recursive = skip_name("recursive");
    ++loop_depth_;
    node->body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (next().text == "else") node->otherwise = parse_statements({"endfor"}, true);
    return node;
  }

  StmtPtr parse_set() {
    const int line = next().line;
    ExprPtr target = parse_assign_target(true, true, {});
    if (skip_op("=")) {
      auto node = std::make_unique<Assign>(line);
      node->target = std::move(target);
      node->value = parse_tuple(TupleOptions{});
      return node;
    }
    auto node = std::make_unique<AssignBlock>(line);
    node->target = std::move(target);
    node->filter = parse_filter(nullptr, false);
    node->body = parse_statements({"endset"}, true);
    return node;
  }

  void parse_signature(Macro& m) {
    expect_op("(");
    while (!is_op(")")) {
      if (!m.params.empty()) expect_op(",");
      m.params.push_back(expect_identifier());
      if (skip_op("=")) m.defaults.push_back(parse_expression());
      else if (!m.defaults.empty()) fail_here("non-default argument follows default argument");
    }
    expect_op(")");
  }

  void parse_macro_body(Macro& m, const char* end_tag) {
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;  // break/continue do not cross a macro
    m.body = parse_statements({end_tag}, true);
    loop_depth_ = saved_loops;
  }

  StmtPtr parse_macro() {
    auto node = std::make_unique<Macro>(next().line);
    node->name = expect_identifier();
    parse_signature(*node);
    parse_macro_body(*node, "endmacro");
    return node;
  }

  StmtPtr parse_call_block() {
    auto node = std::make_unique<CallBlock>(next().line);
    node->caller.name = "caller";
    if (is_op("(")) parse_signature(node->caller);
    node->call = parse_expression();
    if (node->call->kind != ExprKind::Call) fail_here("expected call");
    parse_macro_body(node->caller, "endcall");
    return node;
  }

  StmtPtr parse_filter_block() {
    auto node = std::make_unique<FilterBlock>(next().line);
    node->filter = parse_filter(nullptr, true);
    node->body = parse_statements({"endfilter"}, true);
    return node;
  }

  StmtPtr parse_with() {
    auto node = std::make_unique<With>(next().line);
    while (cur().type != TokenType::BlockEnd) {
      if (!node->targets.empty()) expect_op(",");
      node->targets.push_back(parse_assign_target(true, false, {}));
      expect_op("=");
      node->values.push_back(parse_expression());
    }
    node->body = parse_statements({"endwith"}, true);
    return node;
  }

  ExprPtr parse_assign_target(bool with_tuple, bool with_namespace, std::vector<const char*> extra_end) {
    ExprPtr target;
    if (with_tuple) {
      TupleOptions o;
      o.simplified = true;
      o.with_namespace = with_namespace;
      o.extra_end = std::move(extra_end);
      target = parse_tuple(o);
    } else {
      target = parse_primary(with_namespace);
    }
    check_assignable(*target);
    return target;
  }

  void check_assignable(const Expr& e) const {
    if (e.kind == ExprKind::Name) {
      const std::string& n = static_cast<const Name&>(e).name;
      if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
        throw TemplateError(ErrorKind::Syntax, "can't assign to 'const'", e.line);
      return;
    }
    if (e.kind == ExprKind::NSRef) return;
    if (e.kind == ExprKind::Tuple) {
      for (const auto& item : static_cast<const Sequence&>(e).items) check_assignable(*item);
      return;
    }
    const char* what = e.kind == ExprKind::Const ? "const" : e.kind == ExprKind::List ? "list" : "expression";
    throw TemplateError(ErrorKind::Syntax, std::string("can't assign to '") + what + "'", e.line);
  }

  // ---- expressions ----
  struct TupleOptions {
    bool simplified = false;
    bool with_condexpr = true;
    bool explicit_parentheses = false;
    bool with_namespace = false;
    std::vector<const char*> extra_end;
  };

  bool is_tuple_end(const TupleOptions& o) const {
    const TokenType t = cur().type;
    if (t == TokenType::VariableEnd || t == TokenType::BlockEnd || is_op(")")) return true;
    for (const char* e : o.extra_end)
      if (is_name(e)) return true;
    return false;
  }

  ExprPtr parse_tuple(const TupleOptions& o) {
    DepthGuard guard(*this);
    const int line = cur().line;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(o)) break;
      args.push_back(o.simplified ? parse_primary(o.with_namespace) : o.with_condexpr ? parse_condexpr() : parse_or());
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!o.explicit_parentheses) fail_here("Expected an expression, got '" + describe(cur()) + "'");
    }
    auto t = std::make_unique<Sequence>(ExprKind::Tuple, line);
    t->items = std::move(args);
    return t;
  }

  ExprPtr parse_expression() { return parse_condexpr(); }

  ExprPtr parse_condexpr() {
    DepthGuard guard(*this);
    int line = cur().line;
    ExprPtr expr1 = parse_or();
    while (skip_name("if")) {
      ExprPtr expr2 = parse_or();
      ExprPtr expr3;
      if (skip_name("else")) expr3 = parse_condexpr();
      expr1 = std::make_unique<CondExpr>(std::move(expr2), std::move(expr1), std::move(expr3), line);
      line = cur().line;
    }
    return expr1;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      left = std::make_unique<Binary>(BinaryOp::Or, std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      left = std::make_unique<Binary>(BinaryOp::And, std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      const int line = next().line;
      return std::make_unique<Unary>(UnaryOp::Not, parse_not(), line);
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr expr = parse_math1();
    std::unique_ptr<Compare> cmp;
    while (true) {
      CompareOp op;
      if (is_op("==")) op = CompareOp::Eq;
      else if (is_op("!=")) op = CompareOp::Ne;
      else if (is_op("<")) op = CompareOp::Lt;
      else if (is_op("<=")) op = CompareOp::Le;
      else if (is_op(">")) op = CompareOp::Gt;
      else if (is_op(">=")) op = CompareOp::Ge;
      else if (is_name("in")) op = CompareOp::In;
      else if (is_name("not") && peek().type == TokenType::Name && peek().text == "in") {
        next();
        op = CompareOp::NotIn;
      } else {
        break;
      }
      next();
      if (!cmp) cmp = std::make_unique<Compare>(std::move(expr), line);
      cmp->rest.emplace_back(op, parse_math1());
    }
    if (cmp) return cmp;
    return expr;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const BinaryOp op = cur().text == "+" ? BinaryOp::Add : BinaryOp::Sub;
      const int line = next().line;
      left = std::make_unique<Binary>(op, std::move(left), parse_concat(), line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    const int line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto c = std::make_unique<Concat>(line);
    c->items.push_back(std::move(first));
    while (skip_op("~")) c->items.push_back(parse_math2());
    return c;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string& t = cur().text;
      const BinaryOp op = t == "*" ? BinaryOp::Mul : t == "/" ? BinaryOp::Div : t == "//" ? BinaryOp::FloorDiv : BinaryOp::Mod;
      const int line = next().line;
      left = std::make_unique<Binary>(op, std::move(left), parse_pow(), line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const int line = next().line;
      left = std::make_unique<Binary>(BinaryOp::Pow, std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const int line = cur().line;
    ExprPtr node;
    if (skip_op("-")) node = std::make_unique<Unary>(UnaryOp::Neg, parse_unary(false), line);
    else if (skip_op("+")) node = std::make_unique<Unary>(UnaryOp::Pos, parse_unary(false), line);
    else node = parse_primary(false);
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary(bool with_namespace) {
    DepthGuard guard(*this);
    const Token& tok = cur();
    const int line = tok.line;
    switch (tok.type) {
      case TokenType::Name: {
        const std::string n = next().text;
        if (n == "true" || n == "True") return std::make_unique<Const>(Value(true), line);
        if (n == "false" || n == "False") return std::make_unique<Const>(Value(false), line);
        if (n == "none" || n == "None") return std::make_unique<Const>(Value(nullptr), line);
        if (with_namespace && is_op(".")) {
          next();
          return std::make_unique<NSRef>(n, expect_identifier(), line);
        }
        return std::make_unique<Name>(n, line);
      }
      case TokenType::String: {
        std::string s = next().text;
        while (cur().type == TokenType::String) s += next().text;
        return std::make_unique<Const>(Value(std::move(s)), line);
      }
      case TokenType::Integer: return std::make_unique<Const>(Value(next().integer), line);
      case TokenType::Float: return std::make_unique<Const>(Value(next().number), line);
      default: break;
    }
    if (skip_op("(")) {
      TupleOptions o;
      o.explicit_parentheses = true;
      ExprPtr e = parse_tuple(o);
      expect_op(")");
      return e;
    }
    if (is_op("[")) return parse_list();
    if (is_op("{")) return parse_dict();
    fail_here("unexpected '" + describe(tok) + "'");
  }

  ExprPtr parse_list() {
    auto node = std::make_unique<Sequence>(ExprKind::List, next().line);
    while (!is_op("]")) {
      if (!node->items.empty()) expect_op(",");
      if (is_op("]")) break;
      node->items.push_back(parse_expression());
    }
    expect_op("]");
    return node;
  }

  ExprPtr parse_dict() {
    auto node = std::make_unique<DictLiteral>(next().line);
    while (!is_op("}")) {
      if (!node->items.empty()) expect_op(",");
      if (is_op("}")) break;
      ExprPtr key = parse_expression();
      expect_op(":");
      node->items.emplace_back(std::move(key), parse_expression());
    }
    expect_op("}");
    return node;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else break;
    }
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) node = parse_filter(std::move(node), false);
      else if (is_name("is")) node = parse_test(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else break;
    }
    return node;
  }

  ExprPtr parse_subscript(ExprPtr node) {
    DepthGuard guard(*this);
    const Token& tok = next();
    const int line = tok.line;
    if (tok.text == ".") {
      const Token& attr = next();
      if (attr.type == TokenType::Name) return std::make_unique<Getattr>(std::move(node), attr.text, line);
      if (attr.type != TokenType::Integer) throw TemplateError(ErrorKind::Syntax, "expected name or number", attr.line);
      return std::make_unique<Getitem>(std::move(node), std::make_unique<Const>(Value(attr.integer), attr.line), line);
    }
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.size() == 1) return std::make_unique<Getitem>(std::move(node), std::move(args[0]), line);
    auto t = std::make_unique<Sequence>(ExprKind::Tuple, line);
    t->items = std::move(args);
    return std::make_unique<Getitem>(std::move(node), std::move(t), line);
  }

  ExprPtr parse_subscribed() {
    const int line = cur().line;
    ExprPtr start;
    if (!skip_op(":")) {
      ExprPtr e = parse_expression();
      if (!skip_op(":")) return e;
      start = std::move(e);
    }
    auto s = std::make_unique<Slice>(line);
    s->start = std::move(start);
    if (!is_op(":") && !is_op("]") && !is_op(",")) s->stop = parse_expression();
    if (skip_op(":")) {
      if (!is_op("]") && !is_op(",")) s->step = parse_expression();
    }
    return s;
  }

  Arguments parse_call_args() {
    const int line = cur().line;
    expect_op("(");
    Arguments a;
    bool require_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) throw TemplateError(ErrorKind::Syntax, "invalid syntax for function call expression", line);
    };
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (skip_op("*")) {
        ensure(!a.star_args && !a.star_kwargs);
        a.star_args = parse_expression();
      } else if (skip_op("**")) {
        ensure(!a.star_kwargs);
        a.star_kwargs = parse_expression();
      } else if (cur().type == TokenType::Name && peek().type == TokenType::Operator && peek().text == "=") {
        ensure(!a.star_kwargs);
        std::string key = next().text;
        next();
        a.keywords.emplace_back(std::move(key), parse_expression());
      } else {
        ensure(!a.star_args && !a.star_kwargs && a.keywords.empty());
        a.positional.push_back(parse_expression());
      }
      require_comma = true;
    }
    expect_op(")");
    return a;
  }

  ExprPtr parse_call(ExprPtr node) {
    DepthGuard guard(*this);
    auto call = std::make_unique<Call>(std::move(node), cur().line);
    call->args = parse_call_args();
    return call;
  }

  std::string dotted_name() {
    std::string name = expect_identifier();
    while (skip_op(".")) name += "." + expect_identifier();
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      DepthGuard guard(*this);
      if (!start_inline) next();
      const int line = cur().line;
      auto f = std::make_unique<FilterOrTest>(ExprKind::Filter, std::move(node), dotted_name(), line);
      if (is_op("(")) f->args = parse_call_args();
      node = std::move(f);
      start_inline = false;
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    DepthGuard guard(*this);
    const int line = next().line;
    const bool negated = skip_name("not");
    auto t = std::make_unique<FilterOrTest>(ExprKind::Test, std::move(node), dotted_name(), line);
    const TokenType ty = cur().type;
    if (is_op("(")) {
      t->args = parse_call_args();
    } else if ((ty == TokenType::Name || ty == TokenType::String || ty == TokenType::Integer || ty == TokenType::Float ||
                is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail_here("You cannot chain multiple tests with is");
      t->args.positional.push_back(parse_postfix(parse_primary(false)));
    }
    if (negated) return std::make_unique<Unary>(UnaryOp::Not, std::move(t), line);
    return t;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

ast::Template parse(std::vector<Token> tokens) {
  ast::Template t;
  t.body = Parser(std::move(tokens)).parse_template();
  resolve_names(t);
  fold_constants(t);
  mark_constant_outputs(t);
  mark_macro_arguments(t);
  analyze_scopes(t);
  return t;
}

}  // namespace qinfer::jinja
