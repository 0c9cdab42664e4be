#include "tests/e2e/apiserver_test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bpfproxy::e2e::apiserver::testing {

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Make() {
  const char* base = getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/bpfproxy-apiserver-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  return std::unique_ptr<TempDir>(new TempDir(pattern));
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

nlohmann::json Service(const std::string& ns, const std::string& name, const Labels& labels,
                       const std::string& cluster_ip) {
  nlohmann::json metadata = {{"name", name}, {"namespace", ns}};
  if (!labels.empty()) metadata["labels"] = labels;
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadata},
          {"spec",
           {{"type", "ClusterIP"},
            {"clusterIP", cluster_ip},
            {"clusterIPs", {cluster_ip}},
            {"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}}};
}

nlohmann::json EndpointSlice(const std::string& ns, const std::string& name, const std::string& service,
                             const std::string& ip) {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"kubernetes.io/service-name", service}}}}},
          {"addressType", "IPv4"},
          {"endpoints", {{{"addresses", {ip}}, {"conditions", {{"ready", true}}}}}},
          {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}}};
}

nlohmann::json Node(const std::string& name, const Labels& labels) {
  nlohmann::json metadata = {{"name", name}};
  if (!labels.empty()) metadata["labels"] = labels;
  return {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", metadata}, {"spec", nlohmann::json::object()}};
}

std::string UrlEncode(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

std::string NameOf(const nlohmann::json& object) { return object["metadata"].value("name", ""); }

int64_t RvOf(const nlohmann::json& object) {
  int64_t rv = -1;
  if (!absl::SimpleAtoi(object["metadata"].value("resourceVersion", ""), &rv)) return -1;
  return rv;
}

std::vector<std::string> Summaries(const std::vector<nlohmann::json>& events) {
  std::vector<std::string> out;
  for (const nlohmann::json& event : events) {
    out.push_back(absl::StrCat(event.value("type", "?"), " ", NameOf(event["object"])));
  }
  return out;
}

TempDir* EmulatorTest::pki_dir_ = nullptr;
TestPki* EmulatorTest::pki_ = nullptr;

namespace {

pid_t pki_owner = 0;

}  // namespace

// A test that ends its process with exit() (e.g. inside EXPECT_EXIT, whose
// threadsafe child runs SetUpTestSuite again) skips TearDownTestSuite; this
// still removes the directory. Only in the process that made it: a forked
// death-test child must not delete its parent's PKI.
void EmulatorTest::RemovePkiAtExit() {
  if (getpid() == pki_owner) TearDownTestSuite();
}

void EmulatorTest::SetUpTestSuite() {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Make();
  ASSERT_TRUE(dir.ok()) << dir.status();
  pki_dir_ = dir->release();
  static const bool registered = std::atexit(&EmulatorTest::RemovePkiAtExit) == 0;
  (void)registered;
  pki_owner = getpid();
  absl::StatusOr<TestPki> pki = MakeTestPki(pki_dir_->path(), {"127.0.0.1"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  pki_ = new TestPki(*std::move(pki));
}

void EmulatorTest::TearDownTestSuite() {
  delete pki_;
  pki_ = nullptr;
  delete pki_dir_;
  pki_dir_ = nullptr;
}

void EmulatorTest::StartEmulator(EmulatorConfig config) {
  ASSERT_NE(pki_, nullptr);
  config.server.address = "127.0.0.1";
  config.server.tls_cert_file = pki_->server_cert;
  config.server.tls_key_file = pki_->server_key;
  config.token = pki_->token;
  absl::StatusOr<std::unique_ptr<ApiServerEmulator>> emulator = ApiServerEmulator::Start(std::move(config));
  ASSERT_TRUE(emulator.ok()) << emulator.status();
  emulator_ = *std::move(emulator);
}

TestClient EmulatorTest::Client() const {
  return TestClient({"127.0.0.1", emulator_->port(), pki_->ca_cert, pki_->token});
}

std::vector<nlohmann::json> EmulatorTest::ReadEvents(WatchStream& stream, size_t count) {
  std::vector<nlohmann::json> events;
  while (events.size() < count) {
    WatchStream::Next next = stream.Read();
    if (next.state != WatchStream::State::kEvent) {
      ADD_FAILURE() << "stream ended (state " << static_cast<int>(next.state) << ") after " << events.size()
                    << " of " << count << " events";
      break;
    }
    events.push_back(std::move(next.event));
  }
  return events;
}

}  // namespace bpfproxy::e2e::apiserver::testing
