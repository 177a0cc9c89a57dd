// A workspace's CA: leaves for its hosts only, verifiable by a TLS client,
// and name constraints that make anything else it signed worthless.
#include "host/net/workspace_ca.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <string>

namespace ws::net {
namespace {

X509* ReadCert(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* c = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return c;
}

// What a TLS client does with `leaf` for `host`, trusting only `ca`:
// X509_V_OK or the error.
int Verify(X509* ca, X509* leaf, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* p = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
  if (host.find_first_not_of("0123456789.") == std::string::npos) {
    X509_VERIFY_PARAM_set1_ip_asc(p, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(p, host.c_str(), host.size());
  }
  const int ok = X509_verify_cert(ctx);
  const int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

// A leaf the CA's own key signs outside LeafFor (as if the key leaked).
X509* Forge(WorkspaceCa& ca, const std::string& san) {
  const std::string key_pem = ca.KeyPem();
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* ca_key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  X509* ca_cert = ReadCert(ca.CertPem());
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* c = X509_new();
  X509_set_version(c, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400);
  X509_set_pubkey(c, key);
  X509_set_issuer_name(c, X509_get_subject_name(ca_cert));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca_cert, c, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(c, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(c, ca_key, EVP_sha256());
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
  X509_free(ca_cert);
  return c;
}

TEST(WorkspaceCa, MintsVerifiableLeavesForItsHostsOnly) {
  auto ca = WorkspaceCa::Create({"API.Anthropic.test.", "registry.test"}, "workspace w");
  ASSERT_TRUE(ca.ok()) << ca.status().message();
  EXPECT_EQ(ca.value()->hosts(), (std::vector<std::string>{"api.anthropic.test", "registry.test"}));
  X509* root = ReadCert(ca.value()->CertPem());
  ASSERT_NE(root, nullptr);
  auto leaf = ca.value()->LeafFor("api.anthropic.test");
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  EXPECT_EQ(Verify(root, leaf.value()->cert, "api.anthropic.test"), X509_V_OK);
  EXPECT_EQ(Verify(root, leaf.value()->cert, "registry.test"), X509_V_ERR_HOSTNAME_MISMATCH);
  auto again = ca.value()->LeafFor("API.anthropic.test");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().get(), leaf.value().get()) << "a leaf is minted once";

  auto other = ca.value()->LeafFor("other.test");
  EXPECT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kPermissionDenied);
  EXPECT_FALSE(ca.value()->LeafFor("x.api.anthropic.test").ok()) << "exact names only";
  X509_free(root);
}

TEST(WorkspaceCa, WhatElseItsKeySignsNoClientAccepts) {
  auto ca = WorkspaceCa::Create({"api.test"}, "workspace w");
  ASSERT_TRUE(ca.ok());
  X509* root = ReadCert(ca.value()->CertPem());
  X509* control = Forge(*ca.value(), "DNS:api.test");
  EXPECT_EQ(Verify(root, control, "api.test"), X509_V_OK) << "control: a forged leaf in bounds";
  X509* evil = Forge(*ca.value(), "DNS:github.com");
  EXPECT_EQ(Verify(root, evil, "github.com"), X509_V_ERR_PERMITTED_VIOLATION);
  X509* ip = Forge(*ca.value(), "IP:127.0.0.1");
  EXPECT_EQ(Verify(root, ip, "127.0.0.1"), X509_V_ERR_EXCLUDED_VIOLATION);
  X509_free(control);
  X509_free(evil);
  X509_free(ip);
  X509_free(root);
}

TEST(WorkspaceCa, LongNamesFitTheirCertificates) {
  const std::string host = std::string(60, 'a') + "." + std::string(60, 'b') + ".example";
  auto ca = WorkspaceCa::Create({host}, "workspace " + std::string(63, 'w'));
  ASSERT_TRUE(ca.ok()) << ca.status().message();
  auto leaf = ca.value()->LeafFor(host);
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  X509* root = ReadCert(ca.value()->CertPem());
  EXPECT_EQ(Verify(root, leaf.value()->cert, host), X509_V_OK);
  X509_free(root);
}

TEST(WorkspaceCa, RefusesWhatIsNoHostNameAndLoadsWhatItWrote) {
  for (const std::string& bad :
       std::vector<std::string>{"127.0.0.1", "*.api.test", "api test", "",
                                std::string("a.test,permitted;DNS:evil.test")}) {
    auto ca = WorkspaceCa::Create({bad}, "w");
    EXPECT_FALSE(ca.ok()) << bad;
  }
  auto ca = WorkspaceCa::Create({"api.test"}, "w");
  ASSERT_TRUE(ca.ok());
  auto loaded = WorkspaceCa::Load(ca.value()->CertPem(), ca.value()->KeyPem(), {"api.test"});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded.value()->CertPem(), ca.value()->CertPem());
  auto other = WorkspaceCa::Create({"api.test"}, "w");
  EXPECT_FALSE(WorkspaceCa::Load(ca.value()->CertPem(), other.value()->KeyPem(), {"api.test"}).ok())
      << "a key that is not the certificate's";
}

}  // namespace
}  // namespace ws::net
