// With check_files, the certificates and keys a config names are opened and matched.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config_test_util.h"

namespace fulcrum::config {
namespace {

using testing::errorsOf;

// A fresh EC key and a self-signed certificate for it, written as PEM files.
void writeKeyAndCert(const std::string& key_path, const std::string& cert_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  ASSERT_NE(cert, nullptr);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  FILE* f = std::fopen(key_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(cert_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509(f, cert);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

class ConfigTlsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/fulcrum_tls_" + std::to_string(getpid());
    std::filesystem::create_directories(dir_);
    writeKeyAndCert(path("a.key"), path("a.crt"));
    writeKeyAndCert(path("b.key"), path("b.crt"));
    std::ofstream(path("junk.pem")) << "not a pem file\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::vector<std::string> check(const std::string& listener_tls, const std::string& pool_tls) {
    std::string yaml = testing::withExtra(listener_tls, pool_tls);
    std::vector<std::string> out;
    for (const auto& e : loadConfigString(yaml, "t.yaml", true).errors) {
      out.push_back(e.path + ": " + e.message);
    }
    return out;
  }

  std::string dir_;
};

TEST_F(ConfigTlsFiles, MatchingPairsPass) {
  std::string listener = "    tls:\n      certificates:\n        - { cert: " + path("a.crt") +
                         ", key: " + path("a.key") + " }\n        - { cert: " + path("b.crt") +
                         ", key: " + path("b.key") + " }\n";
  std::string pool = "    tls: { ca_file: " + path("a.crt") + ", cert: " + path("b.crt") +
                     ", key: " + path("b.key") + " }\n";
  EXPECT_EQ(check(listener, pool), std::vector<std::string>{});
}

TEST_F(ConfigTlsFiles, MissingUnparsableAndMismatchedFilesNameTheFile) {
  std::string listener =
      "    tls:\n      certificates:\n"
      "        - { cert: " +
      path("missing.crt") + ", key: " + path("a.key") +
      " }\n"
      "        - { cert: " +
      path("junk.pem") + ", key: " + path("junk.pem") +
      " }\n"
      "        - { cert: " +
      path("a.crt") + ", key: " + path("b.key") + " }\n";
  std::string pool = "    tls: { ca_file: " + path("junk.pem") + " }\n";
  EXPECT_EQ(check(listener, pool),
            (std::vector<std::string>{
                "listeners[0].tls.certificates[0].cert: cannot read \"" + path("missing.crt") +
                    "\": No such file or directory",
                "listeners[0].tls.certificates[1].cert: \"" + path("junk.pem") +
                    "\" holds no PEM certificate",
                "listeners[0].tls.certificates[1].key: \"" + path("junk.pem") +
                    "\" holds no PEM private key (encrypted keys are not supported)",
                "listeners[0].tls.certificates[2].key: the key in \"" + path("b.key") +
                    "\" does not match the certificate in \"" + path("a.crt") + "\"",
                "pools[0].tls.ca_file: \"" + path("junk.pem") + "\" holds no PEM certificate",
            }));
}

TEST_F(ConfigTlsFiles, NotCheckedWithoutCheckFiles) {
  std::string yaml = testing::withExtra(
      "    tls: { certificates: [{ cert: /nonexistent.crt, key: /nonexistent.key }] }\n", "");
  EXPECT_TRUE(loadConfigString(yaml, "t.yaml", false).ok());
  EXPECT_FALSE(loadConfigString(yaml, "t.yaml", true).ok());
}

TEST_F(ConfigTlsFiles, ErrorsHaveThePositionOfTheKey) {
  std::string yaml = testing::withExtra(
      "    tls: { certificates: [{ cert: /nonexistent.crt, key: " + path("a.key") + " }] }\n", "");
  EXPECT_EQ(errorsOf(loadConfigString(yaml, "t.yaml", true)),
            std::vector<std::string>{"t.yaml:5:29: listeners[0].tls.certificates[0].cert: cannot "
                                     "read \"/nonexistent.crt\": No such file or directory"});
}

}  // namespace
}  // namespace fulcrum::config
