// Opens every certificate and key the config names, so that `--check` (and a reload) catch an
// unreadable file or a key that does not match its certificate before any socket is opened.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "fulcrum/config/section_parsers.h"

namespace fulcrum::config {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// An encrypted key would make OpenSSL prompt on the terminal; refuse instead.
int noPassphrase(char*, int, int, void*) { return -1; }

// Reads the whole file; on failure `error` says why, naming the file.
bool readFile(const std::string& path, std::string& out, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = "cannot read \"" + path + "\": " + std::strerror(errno);
    return false;
  }
  errno = 0;
  char buffer[8192];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) out.append(buffer, n);
  bool failed = std::ferror(f) != 0;
  int saved = errno != 0 ? errno : EIO;
  std::fclose(f);
  if (failed) {
    error = "cannot read \"" + path + "\": " + std::strerror(saved);
    return false;
  }
  return true;
}

BioPtr memoryBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

X509Ptr loadCertificate(Diagnostics& diag, const std::string& file, const std::string& path) {
  std::string data, error;
  if (!readFile(file, data, error)) {
    diag.error(path, error);
    return nullptr;
  }
  BioPtr bio = memoryBio(data);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
  ERR_clear_error();
  if (cert == nullptr) diag.error(path, "\"" + file + "\" holds no PEM certificate");
  return cert;
}

PkeyPtr loadKey(Diagnostics& diag, const std::string& file, const std::string& path) {
  std::string data, error;
  if (!readFile(file, data, error)) {
    diag.error(path, error);
    return nullptr;
  }
  BioPtr bio = memoryBio(data);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    diag.error(path,
               "\"" + file + "\" holds no PEM private key (encrypted keys are not supported)");
  }
  return key;
}

// `base` is the path of the block holding `cert` and `key`.
void checkPair(Diagnostics& diag, const std::string& cert_file, const std::string& key_file,
               const std::string& base) {
  X509Ptr cert = loadCertificate(diag, cert_file, base + ".cert");
  PkeyPtr key = loadKey(diag, key_file, base + ".key");
  if (cert == nullptr || key == nullptr) return;
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    diag.error(base + ".key", "the key in \"" + key_file +
                                  "\" does not match the certificate in \"" + cert_file + "\"");
  }
  ERR_clear_error();
}

void checkCaFile(Diagnostics& diag, const std::string& file, const std::string& path) {
  std::string data, error;
  if (!readFile(file, data, error)) {
    diag.error(path, error);
    return;
  }
  BioPtr bio = memoryBio(data);
  X509Ptr first(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
  ERR_clear_error();
  if (first == nullptr) diag.error(path, "\"" + file + "\" holds no PEM certificate");
}

}  // namespace

void checkTlsFiles(Diagnostics& diag, const Config& config) {
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& tls = config.listeners[i].tls;
    if (!tls) continue;
    for (size_t c = 0; c < tls->certificates.size(); ++c) {
      const TlsCertificate& pair = tls->certificates[c];
      if (pair.cert.empty() || pair.key.empty()) continue;  // already reported
      checkPair(diag, pair.cert, pair.key,
                indexPath(indexPath("listeners", i) + ".tls.certificates", c));
    }
  }
  for (size_t i = 0; i < config.pools.size(); ++i) {
    const auto& tls = config.pools[i].tls;
    if (!tls) continue;
    std::string base = indexPath("pools", i) + ".tls";
    if (!tls->ca_file.empty()) checkCaFile(diag, tls->ca_file, base + ".ca_file");
    if (!tls->cert.empty() && !tls->key.empty()) checkPair(diag, tls->cert, tls->key, base);
  }
}

}  // namespace fulcrum::config
