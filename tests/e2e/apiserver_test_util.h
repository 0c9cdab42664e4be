// Shared by the emulator's tests: temp dirs, object builders, and a fixture
// running an in-process emulator over TLS on 127.0.0.1.
#ifndef BPFPROXY_TESTS_E2E_APISERVER_TEST_UTIL_H_
#define BPFPROXY_TESTS_E2E_APISERVER_TEST_UTIL_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "e2e/apiserver/emulator.h"
#include "e2e/apiserver/test_pki.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/apiserver_test_client.h"

namespace bpfproxy::e2e::apiserver::testing {

// A directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Make();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

using Labels = std::map<std::string, std::string>;

nlohmann::json Service(const std::string& ns, const std::string& name, const Labels& labels = {},
                       const std::string& cluster_ip = "10.96.0.10");
nlohmann::json EndpointSlice(const std::string& ns, const std::string& name, const std::string& service,
                             const std::string& ip);
nlohmann::json Node(const std::string& name, const Labels& labels = {});

// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& value);

// metadata.name / metadata.resourceVersion (as a number) of an object.
std::string NameOf(const nlohmann::json& object);
int64_t RvOf(const nlohmann::json& object);
// "TYPE name" for each watch event, for compact expectations.
std::vector<std::string> Summaries(const std::vector<nlohmann::json>& events);

class EmulatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // TLS from the suite's PKI and its token are filled in.
  void StartEmulator(EmulatorConfig config = {});
  TestClient Client() const;
  ApiServerEmulator& emulator() { return *emulator_; }
  static const TestPki& pki() { return *pki_; }

  // Reads events until |count| arrived; fails the test on an early end.
  static std::vector<nlohmann::json> ReadEvents(WatchStream& stream, size_t count);

 private:
  static void RemovePkiAtExit();
  static TempDir* pki_dir_;
  static TestPki* pki_;
  std::unique_ptr<ApiServerEmulator> emulator_;
};

}  // namespace bpfproxy::e2e::apiserver::testing

#endif  // BPFPROXY_TESTS_E2E_APISERVER_TEST_UTIL_H_
