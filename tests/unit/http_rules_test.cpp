// The rules an intercepted request is held to, and the substitution: the
// placeholder becomes the secret only in its header, format and host.
#include "host/net/http_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace ws::net {
namespace {

const std::string kPh = "wsph_00112233445566778899aabbccddeeff";
const std::string kKey = "sk-ant-api03-REALREALREALREALREAL";

Binding Anthropic() { return {"anthropic", "x-api-key", "{}", kPh, kKey}; }

HostPlan Ai(std::vector<Binding> b = {Anthropic()}) {
  return {"api.anthropic.test", 443, HostClass::kAiApi, std::move(b), false, nullptr, {}};
}

RequestHead Head(std::string method, std::string target,
                 std::vector<HttpHeader> headers = {{"Host", "api.anthropic.test"}}) {
  RequestHead h;
  h.method = std::move(method);
  h.target = std::move(target);
  h.headers = std::move(headers);
  return h;
}

TEST(HttpRules, ThePlaceholderBecomesTheSecretInItsHeaderOnly) {
  RequestHead h = Head("POST", "/v1/messages?beta=" + kPh,
                       {{"Host", "api.anthropic.test"},
                        {"X-Api-Key", kPh},
                        {"X-Other", kPh},
                        {"Accept-Encoding", "gzip"}});
  RequestOutcome o = ApplyRules(Ai(), &h);
  ASSERT_EQ(o.refusal.status, 0) << o.refusal.reason;
  EXPECT_TRUE(o.injected);
  EXPECT_EQ(o.binding, "anthropic");
  EXPECT_EQ(h.All("x-api-key"), std::vector<std::string>{kKey});
  EXPECT_EQ(h.All("x-other"), std::vector<std::string>{kPh}) << "other headers untouched";
  EXPECT_EQ(h.target, "/v1/messages?beta=" + kPh) << "the query untouched";
  EXPECT_EQ(h.All("accept-encoding"), std::vector<std::string>{"identity"});
  const std::string wire = h.Serialize();
  EXPECT_EQ(wire.find(kKey), wire.rfind(kKey)) << "the secret once, in its header";
}

TEST(HttpRules, AFormatWrapsTheSecret) {
  Binding b{"openai", "Authorization", "Bearer {}", kPh, "sk-real"};
  HostPlan plan{"api.openai.test", 443, HostClass::kAiApi, {b}, false, nullptr, {}};
  RequestHead h =
      Head("POST", "/v1/files", {{"Host", "api.openai.test"}, {"authorization", "Bearer " + kPh}});
  RequestOutcome o = ApplyRules(plan, &h);
  ASSERT_EQ(o.refusal.status, 0) << o.refusal.reason;
  EXPECT_EQ(h.All("Authorization"), std::vector<std::string>{"Bearer sk-real"});
  RequestHead bare = Head("POST", "/v1/files",
                          {{"Host", "api.openai.test"}, {"authorization", kPh}});  // no "Bearer"
  EXPECT_EQ(ApplyRules(plan, &bare).refusal.status, 403);
  EXPECT_EQ(bare.All("authorization"), std::vector<std::string>{kPh});
}

TEST(HttpRules, AnAiHostRefusesAnyCredentialButThePlaceholder) {
  struct Case {
    std::vector<HttpHeader> headers;
    std::string target;
  };
  const std::vector<Case> cases = {
      {{{"Host", "api.anthropic.test"}, {"x-api-key", "sk-ant-worms-own-key"}}, "/v1/files"},
      {{{"Host", "api.anthropic.test"}}, "/v1/files"},
      {{{"Host", "api.anthropic.test"}, {"x-api-key", kPh}, {"Authorization", "Bearer sk-worm"}},
       "/v1/files"},
      {{{"Host", "api.anthropic.test"}, {"x-api-key", kPh}, {"Cookie", "session=worm"}}, "/"},
      {{{"Host", "api.anthropic.test"}, {"x-api-key", kPh}}, "/v1/files?Key=worm"},
      {{{"Host", "api.anthropic.test"}, {"x-api-key", kPh}}, "/v1/files?a=1&%6Bey=worm"},
      {{{"Host", "api.anthropic.test"}, {"x-api-key", kPh + "x"}}, "/"},
  };
  for (const auto& c : cases) {
    RequestHead h = Head("POST", c.target, c.headers);
    RequestOutcome o = ApplyRules(Ai(), &h);
    EXPECT_EQ(o.refusal.status, 403) << h.Serialize();
    EXPECT_EQ(o.rule, "foreign credential") << h.Serialize();
    EXPECT_FALSE(o.injected);
    EXPECT_EQ(h.Serialize().find(kKey), std::string::npos) << "nothing injected into a refusal";
  }
  RequestHead dup =
      Head("POST", "/", {{"Host", "api.anthropic.test"}, {"x-api-key", kPh}, {"X-API-KEY", kPh}});
  EXPECT_EQ(ApplyRules(Ai(), &dup).refusal.status, 400);
  RequestHead none =
      Head("GET", "/v1/models", {{"Host", "api.anthropic.test"}, {"x-api-key", kPh}});
  RequestOutcome o = ApplyRules(Ai({}), &none);
  EXPECT_EQ(o.refusal.status, 403);
  EXPECT_EQ(o.rule, "no binding");
  EXPECT_NE(o.refusal.reason.find("workspace secret add"), std::string::npos) << o.refusal.reason;
}

TEST(HttpRules, AnotherHostWithABindingPassesForeignCredentialsUntouched) {
  HostPlan plan{"api.example.test", 443, HostClass::kOther, {Anthropic()}, false, nullptr, {}};
  RequestHead h = Head("GET", "/", {{"Host", "api.example.test"}, {"x-api-key", "their-own"}});
  RequestOutcome o = ApplyRules(plan, &h);
  EXPECT_EQ(o.refusal.status, 0);
  EXPECT_FALSE(o.injected);
  EXPECT_EQ(h.All("x-api-key"), std::vector<std::string>{"their-own"});
}

TEST(HttpRules, RegistriesAreReadOnlyUnlessWritesAreAllowed) {
  HostPlan plan{"registry.npmjs.test", 443, HostClass::kRegistry, {}, false, nullptr, {}};
  for (const char* m : {"PUT", "POST", "DELETE", "PATCH"}) {
    RequestHead h = Head(m, "/wspkg", {{"Host", "registry.npmjs.test"}});
    RequestOutcome o = ApplyRules(plan, &h);
    EXPECT_EQ(o.refusal.status, 403) << m;
    EXPECT_EQ(o.rule, "read-only");
  }
  for (const char* m : {"GET", "HEAD"}) {
    RequestHead h = Head(m, "/wspkg", {{"Host", "registry.npmjs.test"}});
    EXPECT_EQ(ApplyRules(plan, &h).refusal.status, 0) << m;
  }
  plan.writes_allowed = true;
  RequestHead put = Head("PUT", "/wspkg", {{"Host", "registry.npmjs.test"}});
  EXPECT_EQ(ApplyRules(plan, &put).refusal.status, 0);
}

TEST(HttpRules, EveryRequestNamesTheAllowedHost) {
  for (const std::string host :
       {"other.test", "api.anthropic.test.evil.test", "api.anthropic.test:444"}) {
    RequestHead h = Head("GET", "/", {{"Host", host}, {"x-api-key", kPh}});
    RequestOutcome o = ApplyRules(Ai(), &h);
    EXPECT_EQ(o.refusal.status, 421) << host;
    EXPECT_FALSE(o.injected) << host;
  }
  RequestHead abs = Head("GET", "/", {{"Host", "api.anthropic.test"}, {"x-api-key", kPh}});
  abs.authority = "other.test";
  EXPECT_EQ(ApplyRules(Ai(), &abs).refusal.status, 421);
  RequestHead ok = Head("GET", "/", {{"Host", "API.anthropic.test.:443"}, {"x-api-key", kPh}});
  EXPECT_EQ(ApplyRules(Ai(), &ok).refusal.status, 0) << "control";
}

TEST(HttpRules, TheAuditPathKeepsNoQueryValue) {
  EXPECT_EQ(PathForAudit("/v1/x?key=secret&b=2&flag"), "/v1/x?key=-&b=-&flag");
  EXPECT_EQ(PathForAudit("/v1/x"), "/v1/x");
}

TEST(Scrubber, ARealValueComingBackBecomesThePlaceholderInAnyPieces) {
  const std::string body = "{\"echo\":\"" + kKey + "\",\"again\":\"" + kKey + "\"}";
  for (size_t step : {1, 3, 7, 1000}) {
    Scrubber s({{kKey, kPh}});
    std::string out;
    for (size_t at = 0; at < body.size(); at += step) s.Feed(body.substr(at, step), &out);
    s.Flush(&out);
    EXPECT_EQ(out.size(), body.size()) << "the framing stays";
    EXPECT_EQ(out.find(kKey), std::string::npos) << out;
    EXPECT_NE(out.find(kPh.substr(0, kKey.size())), std::string::npos) << out;
    EXPECT_EQ(s.replaced(), 2);
  }
}

TEST(Scrubber, HoldsBackOnlyWhatCouldBeginAValue) {
  Scrubber s({{kKey, kPh}});
  std::string out;
  s.Feed("data: {\"x\":1}\n\n", &out);
  EXPECT_EQ(out, "data: {\"x\":1}\n\n") << "an SSE event passes at once";
  out.clear();
  s.Feed("tail sk-ant", &out);
  EXPECT_EQ(out, "tail ");
  s.Feed("-other", &out);
  EXPECT_EQ(out, "tail sk-ant-other");
}

}  // namespace
}  // namespace ws::net
