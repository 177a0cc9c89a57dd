#include "host/net/workspace_ca.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>

#include "host/common/ssl_errors.h"
#include "host/net/address.h"
#include "host/net/policy.h"

namespace ws::net {
namespace {

Status SslError(const std::string& what) {
  return Status(Code::kInternal, what + ": " + SslErrors());
}

EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }

bool AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  const bool ok = ext && X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate with the common fields set: a random serial, validity from
// a day ago, the subject CN, the key.
X509* NewCert(EVP_PKEY* key, const std::string& cn, long days) {
  X509* c = X509_new();
  if (!c) return nullptr;
  unsigned char serial[16];
  BIGNUM* bn = nullptr;
  bool ok = RAND_bytes(serial, sizeof serial) == 1;
  serial[0] &= 0x7f;  // positive
  ok = ok && (bn = BN_bin2bn(serial, sizeof serial, nullptr)) != nullptr &&
       BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) != nullptr;
  BN_free(bn);
  ok = ok && X509_set_version(c, X509_VERSION_3) &&
       X509_gmtime_adj(X509_getm_notBefore(c), -86400) &&
       X509_gmtime_adj(X509_getm_notAfter(c), days * 86400) && X509_set_pubkey(c, key) &&
       X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  if (!ok) {
    X509_free(c);
    return nullptr;
  }
  return c;
}

template <typename F>
std::string Pem(F write) {
  BIO* b = BIO_new(BIO_s_mem());
  std::string out;
  if (b && write(b)) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    out.assign(data, static_cast<size_t>(n));
  }
  BIO_free(b);
  return out;
}

Result<std::vector<std::string>> Normalize(const std::vector<std::string>& hosts) {
  if (hosts.size() > kMaxCaHosts) {
    return Status(Code::kInvalidArgument,
                  "more than " + std::to_string(kMaxCaHosts) + " hosts for one workspace CA");
  }
  std::vector<std::string> out;
  for (const auto& h : hosts) {
    auto n = NormalizeHostName(h);
    if (!n || ParseIpLiteral(h)) {
      return Status(Code::kInvalidArgument, "'" + h + "' is not a host name for a workspace CA");
    }
    if (std::find(out.begin(), out.end(), *n) == out.end()) out.push_back(*n);
  }
  return out;
}

}  // namespace

Leaf::~Leaf() {
  X509_free(cert);
  EVP_PKEY_free(key);
}

WorkspaceCa::WorkspaceCa(X509* cert, EVP_PKEY* key, std::vector<std::string> hosts)
    : cert_(cert), key_(key), hosts_(std::move(hosts)) {}

WorkspaceCa::~WorkspaceCa() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
  EVP_PKEY_free(leaf_key_);
}

Result<std::unique_ptr<WorkspaceCa>> WorkspaceCa::Create(const std::vector<std::string>& hosts_in,
                                                         const std::string& label) {
  auto hosts = Normalize(hosts_in);
  if (!hosts.ok()) return hosts.status();
  EVP_PKEY* key = NewKey();
  if (!key) return SslError("a key for the workspace CA");
  // A common name is at most 64 bytes; the name constraints say the rest.
  X509* c = NewCert(key, label.substr(0, 48) + " CA", kCaDays);
  if (!c) {
    EVP_PKEY_free(key);
    return SslError("the workspace CA certificate");
  }
  // Permitted: the hosts (a DNS constraint also covers names below them;
  // leaves are minted for the exact names only). Excluded: every address.
  std::string nc;
  for (const auto& h : hosts.value()) nc += "permitted;DNS:" + h + ",";
  nc += "excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0";
  X509_set_issuer_name(c, X509_get_subject_name(c));
  const bool ok = AddExt(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
                  AddExt(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") &&
                  (hosts.value().empty() || AddExt(c, c, NID_name_constraints, "critical," + nc)) &&
                  AddExt(c, c, NID_subject_key_identifier, "hash") &&
                  AddExt(c, c, NID_authority_key_identifier, "keyid:always") &&
                  X509_sign(c, key, EVP_sha256()) > 0;
  if (!ok) {
    X509_free(c);
    EVP_PKEY_free(key);
    return SslError("the workspace CA certificate");
  }
  return std::unique_ptr<WorkspaceCa>(new WorkspaceCa(c, key, std::move(hosts.value())));
}

Result<std::unique_ptr<WorkspaceCa>> WorkspaceCa::Load(const std::string& cert_pem,
                                                       const std::string& key_pem,
                                                       const std::vector<std::string>& hosts_in) {
  auto hosts = Normalize(hosts_in);
  if (!hosts.ok()) return hosts.status();
  BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  X509* cert = cb ? PEM_read_bio_X509(cb, nullptr, nullptr, nullptr) : nullptr;
  EVP_PKEY* key = kb ? PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(cb);
  BIO_free(kb);
  if (!cert || !key || X509_check_private_key(cert, key) != 1) {
    X509_free(cert);
    EVP_PKEY_free(key);
    return SslError("reading the workspace CA");
  }
  return std::unique_ptr<WorkspaceCa>(new WorkspaceCa(cert, key, std::move(hosts.value())));
}

std::string WorkspaceCa::CertPem() const {
  return Pem([&](BIO* b) { return PEM_write_bio_X509(b, cert_) == 1; });
}

std::string WorkspaceCa::KeyPem() const {
  return Pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key_, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
}

Result<std::shared_ptr<const Leaf>> WorkspaceCa::LeafFor(const std::string& host_in) {
  auto host = NormalizeHostName(host_in);
  if (!host || std::find(hosts_.begin(), hosts_.end(), *host) == hosts_.end()) {
    return Status(Code::kPermissionDenied,
                  "the workspace CA does not vouch for '" + host_in.substr(0, 255) + "'");
  }
  MutexLock lock(mu_);
  // A leaf is reused until a day before it ends (a daemon may run for months).
  time_t soon = time(nullptr) + 86400;
  for (auto it = leaves_.begin(); it != leaves_.end(); ++it) {
    if (it->first != *host) continue;
    if (X509_cmp_time(X509_get0_notAfter(it->second->cert), &soon) > 0) return it->second;
    leaves_.erase(it);
    break;
  }
  if (!leaf_key_ && !(leaf_key_ = NewKey())) return SslError("a key for leaf certificates");
  X509* c = NewCert(leaf_key_, host->substr(0, 64), kLeafDays);  // the SAN names it whole
  if (!c) return SslError("a leaf certificate");
  X509_set_issuer_name(c, X509_get_subject_name(cert_));
  const bool ok = AddExt(c, cert_, NID_basic_constraints, "critical,CA:FALSE") &&
                  AddExt(c, cert_, NID_key_usage, "critical,digitalSignature") &&
                  AddExt(c, cert_, NID_ext_key_usage, "serverAuth") &&
                  AddExt(c, cert_, NID_subject_alt_name, "DNS:" + *host) &&
                  AddExt(c, cert_, NID_subject_key_identifier, "hash") &&
                  AddExt(c, cert_, NID_authority_key_identifier, "keyid:always") &&
                  X509_sign(c, key_, EVP_sha256()) > 0;
  if (!ok) {
    X509_free(c);
    return SslError("a leaf certificate");
  }
  EVP_PKEY_up_ref(leaf_key_);
  auto leaf = std::make_shared<const Leaf>(c, leaf_key_);
  leaves_.emplace_back(*host, leaf);
  return std::shared_ptr<const Leaf>(leaf);
}

}  // namespace ws::net
