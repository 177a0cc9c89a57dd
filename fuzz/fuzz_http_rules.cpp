// Intercepted requests through HttpRequestFilter and ApplyRules, and
// answers through the Scrubber (host/net/http_rules.h). Properties: never a
// crash; the real key goes on only as a whole x-api-key header line of a
// request that carried the placeholder there (never in a target, another
// header or a body the guest wrote); a request to the AI host goes on only
// with it; the scrubbed answer never holds the key and keeps its length.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/net/http_requests.h"
#include "host/net/http_rules.h"

namespace {
const std::string kPh = "wsph_0123456789abcdef0123456789abcdef";
const std::string kKey = "REALKEY-9f8e7d6c5b4a";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.find(kKey) != std::string_view::npos) return 0;  // the guest never knows it
  ws::net::HostPlan plan{
      "api.test", 443, ws::net::HostClass::kAiApi, {{"s", "x-api-key", "{}", kPh, kKey}}, false};
  int heads = 0, injected = 0;
  ws::net::HttpRequestFilter f([&](ws::net::RequestHead* h) {
    ++heads;
    ws::net::RequestOutcome o = ws::net::ApplyRules(plan, h);
    if (o.refusal.status == 0 && !o.injected) abort();  // the AI host takes the placeholder only
    if (o.refusal.status != 0 && h->Serialize().find(kKey) != std::string::npos) abort();
    if (o.injected) ++injected;
    return o.refusal;
  });
  std::string out;
  (void)f.Feed(in, &out);
  int keys = 0;
  for (size_t at = out.find(kKey); at != std::string::npos; at = out.find(kKey, at + 1)) {
    const size_t line = out.rfind("\r\n", at);
    const std::string_view before(out.data() + line + 2, at - line - 2);
    if (before != "x-api-key: " && before != "X-Api-Key: " && before != "X-API-KEY: ") {
      // Any spelling of the header name, nothing else on the line before it.
      std::string lower(before);
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower != "x-api-key: ") abort();
    }
    if (out.compare(at + kKey.size(), 2, "\r\n") != 0) abort();
    ++keys;
  }
  if (keys != injected) abort();

  ws::net::Scrubber scrub({{kKey, kPh}});
  std::string answer(in);
  answer.insert(answer.size() / 2, kKey);
  std::string clean;
  for (size_t at = 0; at < answer.size(); at += 7) scrub.Feed(answer.substr(at, 7), &clean);
  scrub.Flush(&clean);
  if (clean.size() != answer.size() || clean.find(kKey) != std::string::npos) abort();
  return 0;
}
