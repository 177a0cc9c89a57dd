// The host -> guest boot contract: what the daemon encodes, the agent
// decodes, as a pair.
#include "host/common/boot_params.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ws::boot {
namespace {

BootParams Full() {
  BootParams p;
  p.name = "my-app_2";
  p.net = NetMode::kOpen;
  p.root = "/dev/vda";
  p.git_name = "Zoë O'Brien \"zo\" 100%";
  p.git_email = "zo+dev@example.org";
  p.shares = {{"ws0", "/workspace", false}, {"ws1", "/home/user/data set%41", true}};
  return p;
}

TEST(BootParams, WhatTheDaemonEncodesTheAgentDecodes) {
  const BootParams p = Full();
  const std::string words = Encode(p);
  EXPECT_EQ(words.rfind("workspace.v=1 ", 0), 0u) << words;
  // Inside a real command line, between the kernel's own words.
  auto back = Decode("console=ttyS0 panic=-1 quiet init_on_alloc=0 " + words + " rw");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), p);
  // One word per value: nothing the user chose splits a value.
  std::istringstream split(words);
  for (std::string w; split >> w;) EXPECT_EQ(w.rfind("workspace.", 0), 0u) << w;
  EXPECT_NE(words.find("workspace.git_name=Zo%C3%AB%20O%27Brien"), std::string::npos) << words;
  // A template's boot: no identity, and the word that says so.
  BootParams tpl;
  tpl.net = NetMode::kAllowlist;
  tpl.root = "/dev/vda";
  tpl.template_boot = true;
  EXPECT_NE(Encode(tpl).find("workspace.template=1"), std::string::npos);
  EXPECT_EQ(Decode(Encode(tpl)).value(), tpl);
  EXPECT_EQ(Encode(p).find("workspace.template"), std::string::npos);
  for (auto mode : {NetMode::kAllowlist, NetMode::kNone, NetMode::kOpen}) {
    BootParams m;
    m.name = "n";
    m.net = mode;
    EXPECT_EQ(Decode(Encode(m)).value(), m);
  }
}

TEST(BootParams, ControlCharactersNeverReachTheGuestAndLongIdentitiesAreLeftOut) {
  BootParams p;
  p.name = "n";
  p.git_name = "evil\x1b]0;x\x07\nname";
  p.git_email = std::string(129, 'e');
  auto back = Decode(Encode(p));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->git_name, "evil]0;xname");
  EXPECT_EQ(back->git_email, "");  // over 128 bytes: the command line is bounded
}

TEST(BootParams, OtherVersionsAndMalformedWordsAreRefusedOldUnversionedOnesRead) {
  EXPECT_EQ(Decode("workspace.v=2 workspace.name=n").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Decode("workspace.v=1 workspace.net=wide").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Decode("workspace.v=1 workspace.share=ws0").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Decode("workspace.v=1 workspace.share=ws0:/w:rx").status().code(),
            Code::kInvalidArgument);
  // What a workspace created before the version word has on its command line.
  auto old = Decode(
      "console=ttyS0 workspace.name=app workspace.net=allowlist workspace.root=/dev/vda "
      "workspace.git_name=A%20B workspace.share=ws0:/workspace:rw");
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->name, "app");
  EXPECT_EQ(old->git_name, "A B");
  ASSERT_EQ(old->shares.size(), 1u);
  EXPECT_EQ(old->shares[0], (ShareMount{"ws0", "/workspace", false}));
}

}  // namespace
}  // namespace ws::boot
