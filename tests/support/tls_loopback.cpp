#include "tests/support/tls_loopback.h"

#include <openssl/err.h>
#include <openssl/pem.h>

namespace ws::test {

bool GuestTlsExchange(int fd, const std::string& trust_pem, const char* sni,
                      const std::vector<std::string>& alpn, const std::string& request,
                      std::string* response,
                      const std::function<void(const std::string&)>& on_read) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  BIO* b = BIO_new_mem_buf(trust_pem.data(), static_cast<int>(trust_pem.size()));
  while (X509* cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert);
    X509_free(cert);
  }
  BIO_free(b);
  ERR_clear_error();
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (sni) {
    SSL_set_tlsext_host_name(ssl, sni);
    SSL_set1_host(ssl, sni);
  }
  if (!alpn.empty()) {
    std::string wire;
    for (const auto& p : alpn) wire += static_cast<char>(p.size()) + p;
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
  }
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const bool handshake = SSL_connect(ssl) == 1;
  if (handshake) {
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char buf[64 * 1024];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
      response->append(buf, static_cast<size_t>(n));
      if (on_read) on_read(*response);
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return handshake;
}

}  // namespace ws::test
