// WorkspaceCa: a workspace's own certificate authority, for the few hosts
// whose requests the host reads (a secret bound to them, or a rule): an EC
// P-256 key that never leaves the host, a certificate the guest trusts whose
// name constraints permit those host names only and no IP address at all
// (so the CA cannot vouch for anything else even if a leaf leaked), and leaf
// certificates minted on demand for those names alone, kept for reuse.
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "host/common/mutex.h"
#include "host/common/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace ws::net {

// A leaf certificate and its key, ready for SSL_use_certificate/PrivateKey.
struct Leaf {
  Leaf(X509* c, EVP_PKEY* k) : cert(c), key(k) {}
  ~Leaf();
  Leaf(const Leaf&) = delete;
  Leaf& operator=(const Leaf&) = delete;
  X509* cert;
  EVP_PKEY* key;
};

// How long a leaf is valid (guest clocks a day behind still accept it).
inline constexpr long kLeafDays = 30;
inline constexpr long kCaDays = 3650;
inline constexpr size_t kMaxCaHosts = 256;

class WorkspaceCa {
 public:
  // A new CA for `hosts` (host names; each is normalized, and an IP
  // literal, a wildcard or junk is kInvalidArgument). `label` goes into
  // its common name ("workspace NAME").
  static Result<std::unique_ptr<WorkspaceCa>> Create(const std::vector<std::string>& hosts,
                                                     const std::string& label);
  // One written before by CertPem/KeyPem, made for `hosts`.
  static Result<std::unique_ptr<WorkspaceCa>> Load(const std::string& cert_pem,
                                                   const std::string& key_pem,
                                                   const std::vector<std::string>& hosts);
  ~WorkspaceCa();

  std::string CertPem() const;  // what the guest trusts
  std::string KeyPem() const;   // for the host's state dir only (0600)
  const std::vector<std::string>& hosts() const { return hosts_; }

  // A leaf for `host`, minted on first use; kPermissionDenied for a name
  // the CA was not made for.
  Result<std::shared_ptr<const Leaf>> LeafFor(const std::string& host);

 private:
  WorkspaceCa(X509* cert, EVP_PKEY* key, std::vector<std::string> hosts);
  X509* cert_;
  EVP_PKEY* key_;
  const std::vector<std::string> hosts_;
  Mutex mu_;
  EVP_PKEY* leaf_key_ WS_GUARDED_BY(mu_) = nullptr;  // one key for every leaf
  std::vector<std::pair<std::string, std::shared_ptr<const Leaf>>> leaves_ WS_GUARDED_BY(mu_);
};

}  // namespace ws::net
