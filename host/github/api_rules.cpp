#include "host/github/api_rules.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "host/common/ascii.h"
#include "host/common/json_depth.h"

namespace ws::github {
namespace {

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  size_t at = 1;
  while (at <= path.size()) {
    const size_t end = std::min(path.find('/', at), path.size());
    out.emplace_back(path.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

bool IsHttpMethod(std::string_view m) {
  return !m.empty() && m.size() <= 16 &&
         std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool IsGraphqlName(std::string_view s) {
  if (s.empty() || s.size() > 128 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// A path a write may name: "/" then segments of URL characters that mean
// one thing to every server (no escapes, no dot segments, no empty ones).
bool IsPlainPath(std::string_view path) {
  if (path.empty() || path[0] != '/' || path.size() > 1024) return false;
  for (const auto& seg : Segments(path)) {
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
            c == '~' || c == '+' || c == '@' || c == '=' || c == ',' || c == '!')) {
        return false;
      }
    }
  }
  return true;
}

// `*` one segment; a last `**` any rest (at least one segment).
bool GlobMatches(const std::vector<std::string>& glob, const std::vector<std::string>& path) {
  for (size_t i = 0; i < glob.size(); ++i) {
    if (glob[i] == "**" && i + 1 == glob.size()) return path.size() > i;
    if (i >= path.size()) return false;
    if (glob[i] != "*" && glob[i] != path[i]) return false;
  }
  return glob.size() == path.size();
}

// The calls a worm publishes or persists with, and the writes that change
// a repository's refs or settings around the push rules: only an exact
// rule lets one through. Matched on lower-case segments, each without what
// follows its first '.' (hooks.json is hooks).
std::string SensitiveWrite(std::string_view method, std::vector<std::string> p) {
  for (auto& seg : p) seg = seg.substr(0, seg.find('.'));
  auto is = [&](std::initializer_list<const char*> glob) {
    std::vector<std::string> g(glob.begin(), glob.end());
    return GlobMatches(g, p);
  };
  auto has = [&](std::string_view seg) { return std::find(p.begin(), p.end(), seg) != p.end(); };
  // Under /repos/O/R: the part after the repository.
  auto sub = [&](std::string_view seg) { return p.size() > 3 && p[0] == "repos" && p[3] == seg; };
  if (is({"user", "repos"}) || is({"orgs", "*", "repos"}) || is({"repos", "*", "*", "generate"}) ||
      is({"repos", "*", "*", "forks"}) || is({"repos", "*", "*", "transfer"})) {
    return "repository creation or transfer";
  }
  if (is({"repos", "*", "*"}) || (!p.empty() && p[0] == "repositories")) {
    return method == "DELETE" ? "repository deletion" : "repository settings and visibility";
  }
  if (sub("git") || sub("contents") || sub("merges") || sub("releases") || sub("tags") ||
      sub("branches") || sub("merge-upstream") || sub("statuses") || sub("check-runs") ||
      sub("check-suites") || has("rulesets") || (sub("pulls") && has("merge")) ||
      (sub("pulls") && has("update-branch"))) {
    return "commits, refs, merges, tags and branch settings (the push rules do not see them)";
  }
  if (has("runners")) return "self-hosted runner registration";
  if (has("dispatches")) return "workflow dispatch";
  if (has("secrets") || has("variables")) return "secrets and variables";
  if (has("keys") || has("gpg_keys") || has("ssh_signing_keys")) return "deploy and user keys";
  if (has("hooks")) return "webhooks";
  if (has("collaborators") || has("invitations") || has("memberships")) {
    return "collaborators and memberships";
  }
  if (!p.empty() && p[0] == "gists") return "gists";
  if (has("actions") || has("workflows") || has("permissions") || has("deployments") ||
      has("environments") || has("pages")) {
    return "Actions, deployments and Pages";
  }
  if (has("codespaces")) return "codespaces (a machine outside the workspace)";
  if (has("migrations")) return "migrations (an export of repositories)";
  return "";
}

// --- GraphQL: a lexer and a parser for executable documents (the October
// 2021 spec), enough to know each operation's type and root fields.

enum class Tok { kEnd, kPunct, kName, kValue, kError };

class Lexer {
 public:
  explicit Lexer(std::string_view src) : s_(src) {}
  Tok Next(std::string* text) {
    Skip();
    text->clear();
    if (i_ >= s_.size()) return Tok::kEnd;
    const char c = s_[i_];
    if (s_.substr(i_, 3) == "...") {
      i_ += 3;
      *text = "...";
      return Tok::kPunct;
    }
    if (std::string_view("!$&():=@[]{}|").find(c) != std::string_view::npos) {
      ++i_;
      *text = std::string(1, c);
      return Tok::kPunct;
    }
    if (c == '_' || std::isalpha(static_cast<unsigned char>(c))) {
      const size_t b = i_;
      while (i_ < s_.size() &&
             (s_[i_] == '_' || std::isalnum(static_cast<unsigned char>(s_[i_])))) {
        ++i_;
      }
      *text = std::string(s_.substr(b, i_ - b));
      return Tok::kName;
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return Number();
    if (c == '"') return String();
    return Tok::kError;
  }

 private:
  void Skip() {
    while (i_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
        ++i_;
      } else if (c == 0xEF && s_.substr(i_, 3) == "\xEF\xBB\xBF") {
        i_ += 3;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '\r') ++i_;
      } else {
        return;
      }
    }
  }
  Tok Number() {
    if (s_[i_] == '-') ++i_;
    const size_t digits = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ == digits) return Tok::kError;
    if (i_ < s_.size() && s_[i_] == '.') {
      const size_t f = ++i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ == f) return Tok::kError;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      const size_t e = i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ == e) return Tok::kError;
    }
    // A name character right after a number is a lexical error.
    if (i_ < s_.size() &&
        (s_[i_] == '_' || s_[i_] == '.' || std::isalpha(static_cast<unsigned char>(s_[i_])))) {
      return Tok::kError;
    }
    return Tok::kValue;
  }
  Tok String() {
    if (s_.substr(i_, 3) == "\"\"\"") {
      for (i_ += 3; i_ < s_.size(); ++i_) {
        if (s_.substr(i_, 4) == "\\\"\"\"") {
          i_ += 3;
        } else if (s_.substr(i_, 3) == "\"\"\"") {
          i_ += 3;
          return Tok::kValue;
        }
      }
      return Tok::kError;
    }
    for (++i_; i_ < s_.size(); ++i_) {
      const char c = s_[i_];
      if (c == '\n' || c == '\r') return Tok::kError;
      if (c == '\\') {
        ++i_;
        continue;
      }
      if (c == '"') {
        ++i_;
        return Tok::kValue;
      }
    }
    return Tok::kError;
  }
  std::string_view s_;
  size_t i_ = 0;
};

struct Selection {
  std::string field;     // a field's name (not its alias); "" for a spread
  std::string fragment;  // a named spread
  std::vector<Selection> inline_set;
  bool is_inline = false;
};

struct Operation {
  std::string type;  // query, mutation, subscription
  std::vector<Selection> root;
};

struct Document {
  std::vector<Operation> operations;
  std::map<std::string, std::vector<Selection>> fragments;
};

constexpr int kMaxDepth = 64;
constexpr size_t kMaxTokens = 200000;

class Parser {
 public:
  explicit Parser(std::string_view src) : lex_(src) { Advance(); }

  bool Parse(Document* doc, std::string* error) {
    if (tok_ == Tok::kEnd) return Fail("an empty GraphQL document", error);
    while (tok_ != Tok::kEnd) {
      if (IsPunct("{")) {
        Operation op{"query", {}};
        if (!SelectionSet(&op.root, 0)) return Fail(error);
        doc->operations.push_back(std::move(op));
      } else if (tok_ == Tok::kName &&
                 (text_ == "query" || text_ == "mutation" || text_ == "subscription")) {
        Operation op{text_, {}};
        Advance();
        if (tok_ == Tok::kName) Advance();
        if (IsPunct("(") && !VariableDefinitions()) return Fail(error);
        if (!Directives(0) || !IsPunct("{") || !SelectionSet(&op.root, 0)) return Fail(error);
        doc->operations.push_back(std::move(op));
      } else if (tok_ == Tok::kName && text_ == "fragment") {
        Advance();
        if (tok_ != Tok::kName || text_ == "on") return Fail(error);
        std::string name = text_;
        Advance();
        if (!(tok_ == Tok::kName && text_ == "on")) return Fail(error);
        Advance();
        if (tok_ != Tok::kName) return Fail(error);
        Advance();
        std::vector<Selection> set;
        if (!Directives(0) || !IsPunct("{") || !SelectionSet(&set, 0)) return Fail(error);
        if (doc->fragments.count(name)) return Fail("a fragment defined twice", error);
        doc->fragments[name] = std::move(set);
      } else {
        return Fail("a GraphQL document with other than operations and fragments", error);
      }
    }
    return true;
  }

 private:
  bool Fail(std::string* error) { return Fail("a GraphQL document the host cannot read", error); }
  bool Fail(const std::string& why, std::string* error) {
    *error = why;
    return false;
  }
  void Advance() { tok_ = ++tokens_ > kMaxTokens ? Tok::kError : lex_.Next(&text_); }
  bool IsPunct(const char* p) const { return tok_ == Tok::kPunct && text_ == p; }
  bool Expect(const char* p) {
    if (!IsPunct(p)) return false;
    Advance();
    return true;
  }
  bool SelectionSet(std::vector<Selection>* out, int depth) {
    if (depth > kMaxDepth || !Expect("{")) return false;
    do {
      Selection sel;
      if (IsPunct("...")) {
        Advance();
        if (tok_ == Tok::kName && text_ != "on") {
          sel.fragment = text_;
          Advance();
          if (!Directives(depth)) return false;
        } else {
          if (tok_ == Tok::kName) {  // on TYPE
            Advance();
            if (tok_ != Tok::kName) return false;
            Advance();
          }
          sel.is_inline = true;
          if (!Directives(depth) || !IsPunct("{") || !SelectionSet(&sel.inline_set, depth + 1)) {
            return false;
          }
        }
      } else {
        if (tok_ != Tok::kName) return false;
        sel.field = text_;
        Advance();
        if (IsPunct(":")) {  // that was an alias
          Advance();
          if (tok_ != Tok::kName) return false;
          sel.field = text_;
          Advance();
        }
        if (IsPunct("(") && !Arguments(depth)) return false;
        if (!Directives(depth)) return false;
        if (IsPunct("{")) {
          std::vector<Selection> inner;
          if (!SelectionSet(&inner, depth + 1)) return false;
        }
      }
      out->push_back(std::move(sel));
    } while (!IsPunct("}") && tok_ != Tok::kEnd && tok_ != Tok::kError);
    return Expect("}");
  }
  bool Arguments(int depth) {
    if (!Expect("(")) return false;
    do {
      if (tok_ != Tok::kName) return false;
      Advance();
      if (!Expect(":") || !Value(depth + 1)) return false;
    } while (!IsPunct(")") && tok_ != Tok::kEnd && tok_ != Tok::kError);
    return Expect(")");
  }
  bool Directives(int depth) {
    while (IsPunct("@")) {
      Advance();
      if (tok_ != Tok::kName) return false;
      Advance();
      if (IsPunct("(") && !Arguments(depth)) return false;
    }
    return true;
  }
  bool Value(int depth) {
    if (depth > kMaxDepth) return false;
    if (IsPunct("$")) {
      Advance();
      if (tok_ != Tok::kName) return false;
      Advance();
      return true;
    }
    if (tok_ == Tok::kValue || tok_ == Tok::kName) {
      Advance();
      return true;
    }
    if (IsPunct("[")) {
      Advance();
      while (!IsPunct("]")) {
        if (!Value(depth + 1)) return false;
      }
      return Expect("]");
    }
    if (IsPunct("{")) {
      Advance();
      while (!IsPunct("}")) {
        if (tok_ != Tok::kName) return false;
        Advance();
        if (!Expect(":") || !Value(depth + 1)) return false;
      }
      return Expect("}");
    }
    return false;
  }
  bool Type(int depth) {
    if (depth > kMaxDepth) return false;
    if (IsPunct("[")) {
      Advance();
      if (!Type(depth + 1) || !Expect("]")) return false;
    } else {
      if (tok_ != Tok::kName) return false;
      Advance();
    }
    if (IsPunct("!")) Advance();
    return true;
  }
  bool VariableDefinitions() {
    if (!Expect("(")) return false;
    do {
      if (!Expect("$") || tok_ != Tok::kName) return false;
      Advance();
      if (!Expect(":") || !Type(0)) return false;
      if (IsPunct("=")) {
        Advance();
        if (!Value(0)) return false;
      }
      if (!Directives(0)) return false;
    } while (!IsPunct(")") && tok_ != Tok::kEnd && tok_ != Tok::kError);
    return Expect(")");
  }

  Lexer lex_;
  Tok tok_ = Tok::kEnd;
  std::string text_;
  size_t tokens_ = 0;
};

// The root fields of a selection set, with fragments at the root resolved:
// each fragment once (a spread of it again adds nothing new), at most 64
// deep; a spread of an unknown fragment, or a cycle, is an error. Only
// mutations are walked, so a query full of spreads costs nothing.
constexpr size_t kMaxRootFields = 1000;

bool RootFields(const Document& doc, const std::vector<Selection>& set, int depth,
                std::set<std::string>* visiting, std::set<std::string>* done,
                std::set<std::string>* out) {
  if (depth > kMaxDepth) return false;
  for (const auto& s : set) {
    if (!s.field.empty()) {
      out->insert(s.field);
      if (out->size() > kMaxRootFields) return false;
    } else if (s.is_inline) {
      if (!RootFields(doc, s.inline_set, depth + 1, visiting, done, out)) return false;
    } else {
      auto it = doc.fragments.find(s.fragment);
      if (it == doc.fragments.end() || visiting->count(s.fragment)) return false;
      if (done->count(s.fragment)) continue;  // its fields are in already
      visiting->insert(s.fragment);
      const bool ok = RootFields(doc, it->second, depth + 1, visiting, done, out);
      visiting->erase(s.fragment);
      if (!ok) return false;
      done->insert(s.fragment);
    }
  }
  return true;
}

ApiVerdict Refused(std::string why) {
  ApiVerdict v;
  v.reason = std::move(why);
  return v;
}

// One query document: every operation in it (the server runs the one
// operationName names; all are held to the rules).
ApiVerdict CheckDocument(const std::vector<ApiWriteRule>& rules, std::string_view text) {
  Document doc;
  std::string error;
  if (!Parser(text).Parse(&doc, &error)) return Refused(error);
  if (doc.operations.empty()) return Refused("a GraphQL document with no operation");
  std::string allowed_by = "query";
  for (const auto& op : doc.operations) {
    if (op.type == "subscription") return Refused("GraphQL subscriptions are refused");
    if (op.type == "query") continue;
    std::set<std::string> fields, visiting, done;
    if (!RootFields(doc, op.root, 0, &visiting, &done, &fields)) {
      return Refused(
          "a GraphQL mutation whose root the host cannot resolve (a fragment it does not define, "
          "a cycle, or over 1000 fields or 64 levels)");
    }
    for (const auto& f : fields) {
      if (f == "__typename") continue;
      auto it = std::find_if(rules.begin(), rules.end(), [&](const ApiWriteRule& r) {
        return r.method == "mutation" && r.target == f;
      });
      if (it == rules.end()) {
        return Refused("the GraphQL mutation " + f +
                       " is not allowed (workspace allow NAME github --api-write 'mutation " + f +
                       "')");
      }
      allowed_by = it->ToString();
    }
  }
  ApiVerdict v;
  v.allowed = true;
  v.rule = allowed_by;
  return v;
}

// The JSON body, parsed; a key twice in one object (which a server could
// read either way) makes it refused as a parse error is.
bool ParseJson(std::string_view body, nlohmann::json* out) {
  std::vector<std::set<std::string>> keys;
  bool dup = false;
  auto cb = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) keys.emplace_back();
    if (ev == E::object_end && !keys.empty()) keys.pop_back();
    if (ev == E::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
      dup = true;
    }
    return true;
  };
  *out = nlohmann::json::parse(body.begin(), body.end(), cb, false);
  return !out->is_discarded() && !dup;
}

}  // namespace

Result<ApiWriteRule> ParseApiWrite(std::string_view spec) {
  const size_t sp = spec.find(' ');
  const std::string usage =
      "--api-write takes 'METHOD /PATH' (e.g. 'POST /repos/me/proj/pulls') or 'mutation FIELD' "
      "(e.g. 'mutation createPullRequest')";
  if (sp == std::string_view::npos) return Status(Code::kInvalidArgument, usage);
  std::string method(spec.substr(0, sp));
  std::string_view target = spec.substr(sp + 1);
  if (method == "mutation") {
    if (!IsGraphqlName(target)) return Status(Code::kInvalidArgument, usage);
    return ApiWriteRule{method, std::string(target)};
  }
  if (!IsHttpMethod(method) || method == "GET" || method == "HEAD") {
    return Status(Code::kInvalidArgument, usage + " (GET and HEAD always pass)");
  }
  std::string path = AsciiLower(target);
  // Wildcards are whole segments: check the path with them as plain names.
  std::string plain = path;
  for (auto& seg : Segments(path)) {
    if (seg.find('*') != std::string::npos && seg != "*" && seg != "**") {
      return Status(Code::kInvalidArgument,
                    "--api-write '" + std::string(spec) +
                        "': '*' stands for a whole path segment ('/repos/me/*/pulls'), '**' at "
                        "the end for the rest");
    }
  }
  std::replace(plain.begin(), plain.end(), '*', 'x');
  if (!IsPlainPath(plain) || path.find('?') != std::string::npos) {
    return Status(Code::kInvalidArgument, "--api-write '" + std::string(spec) +
                                              "': the path must be plain: /repos/OWNER/REPO/...");
  }
  const auto segs = Segments(path);
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    if (segs[i] == "**") {
      return Status(Code::kInvalidArgument,
                    "--api-write '" + std::string(spec) + "': '**' only at the end");
    }
  }
  if (path == "/graphql") {
    return Status(Code::kInvalidArgument,
                  "GraphQL is allowed per mutation: --api-write 'mutation FIELD'");
  }
  return ApiWriteRule{method, path};
}

ApiVerdict CheckRestCall(const std::vector<ApiWriteRule>& rules, std::string_view method,
                         std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (method == "GET" || method == "HEAD") {
    ApiVerdict v;
    v.allowed = true;
    v.rule = "read";
    return v;
  }
  if (!IsPlainPath(path)) {
    return Refused("a write to an API path that is not plain (escapes, dot or empty segments)");
  }
  const std::string lower = AsciiLower(path);
  const auto segs = Segments(lower);
  const std::string sensitive = SensitiveWrite(method, segs);
  for (const auto& r : rules) {
    if (r.method != method) continue;
    const auto glob = Segments(r.target);
    if (!GlobMatches(glob, segs)) continue;
    if (!sensitive.empty() && r.target != lower) continue;  // needs its exact path
    ApiVerdict v;
    v.allowed = true;
    v.rule = r.ToString();
    return v;
  }
  std::string why = std::string(method) + " " + lower + " is not allowed";
  if (!sensitive.empty()) {
    why += " (" + sensitive + ": only a rule naming this exact path allows it)";
  } else {
    why += " (workspace allow NAME github --api-write '" + std::string(method) + " " + lower + "')";
  }
  return Refused(why);
}

ApiVerdict CheckGraphqlBody(const std::vector<ApiWriteRule>& rules, std::string_view body) {
  if (body.size() > kMaxGraphqlBody) return Refused("a GraphQL request over 1 MiB");
  if (JsonTooDeep(body, 64)) return Refused("a GraphQL request nested over 64 levels");
  nlohmann::json j;
  if (!ParseJson(body, &j)) {
    return Refused("a GraphQL request whose body is not JSON (or gives a key twice)");
  }
  std::vector<const nlohmann::json*> requests;
  if (j.is_array()) {
    if (j.empty() || j.size() > 100) return Refused("a GraphQL batch of 0 or over 100 requests");
    for (const auto& r : j) requests.push_back(&r);
  } else {
    requests.push_back(&j);
  }
  ApiVerdict last;
  for (const auto* r : requests) {
    if (!r->is_object()) return Refused("a GraphQL request that is not a JSON object");
    auto q = r->find("query");
    if (q == r->end() || !q->is_string()) {
      return Refused("a GraphQL request without query text (persisted queries are refused)");
    }
    last = CheckDocument(rules, q->get_ref<const std::string&>());
    if (!last.allowed) return last;
  }
  return last;
}

}  // namespace ws::github
