// The ApiWatcher end to end without a network: reflectors on an in-memory
// API, the ServiceTracker, the Proxier writing both views (FakeLbMaps,
// InMemoryPolicyMaps) and a SyncObserver that records what it is told.
#include "proxy/api_watcher.h"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/fake_lb_maps.h"
#include "proxy/policy_maps.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/proxy/lb_maps_checks.h"
#include "tests/proxy/service_tracker_test_util.h"

namespace bpfproxy {
namespace {

using json = nlohmann::json;
using k8s::testing::MakeNode;
using k8s::testing::MakeService;
using k8s::testing::MakeSlice;
using k8s::testing::Ready;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using tracker_testing::WithExternalTrafficPolicyLocal;
using tracker_testing::WithHealthCheckNodePort;
using tracker_testing::WithIngress;
using tracker_testing::WithInternalTrafficPolicyLocal;
using tracker_testing::WithNodePorts;

constexpr char kNode[] = "node-a";
constexpr char kServices[] = "/api/v1/services";
constexpr char kSlices[] = "/apis/discovery.k8s.io/v1/endpointslices";
constexpr char kNodes[] = "/api/v1/nodes";

// An API server in memory: each collection answers its first LIST with
// the objects set for it, then one WATCH that delivers what Push() queues
// and otherwise blocks until the reflector stops.
class MemoryApi : public k8s::ApiClient {
 public:
  void SetList(const std::string& path, std::vector<json> items) {
    absl::MutexLock lock(&mu_);
    lists_[path] = std::move(items);
  }
  void Push(const std::string& path, k8s::WatchEventType type, json object) {
    absl::MutexLock lock(&mu_);
    queues_[path].push_back(k8s::WatchEvent{type, std::move(object)});
  }

  absl::StatusOr<k8s::ListPage> List(const k8s::ResourceRequest& request, int64_t limit,
                                     const std::string& continue_token) override {
    absl::MutexLock lock(&mu_);
    return k8s::ListPage{lists_[request.path], "1", ""};
  }
  absl::StatusOr<std::unique_ptr<k8s::WatchStream>> Watch(const k8s::ResourceRequest& request,
                                                          const std::string& resource_version,
                                                          absl::Duration timeout) override {
    return std::make_unique<Stream>(this, request.path);
  }

 private:
  class Stream : public k8s::WatchStream {
   public:
    Stream(MemoryApi* api, std::string path) : api_(api), path_(std::move(path)) {}
    absl::StatusOr<std::optional<k8s::WatchEvent>> Next() override {
      absl::MutexLock lock(&api_->mu_);
      std::deque<k8s::WatchEvent>& queue = api_->queues_[path_];
      auto ready = [&] { return !queue.empty() || cancelled_; };
      api_->mu_.Await(absl::Condition(&ready));
      if (cancelled_) return absl::CancelledError("stopped");
      k8s::WatchEvent event = std::move(queue.front());
      queue.pop_front();
      return std::optional<k8s::WatchEvent>(std::move(event));
    }
    void Cancel() override {
      absl::MutexLock lock(&api_->mu_);
      cancelled_ = true;
    }

   private:
    MemoryApi* api_;
    std::string path_;
    bool cancelled_ = false;  // Guarded by api_->mu_.
  };

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<json>> lists_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<k8s::WatchEvent>> queues_ ABSL_GUARDED_BY(mu_);
};

// Records every call.
class RecordingObserver : public SyncObserver {
 public:
  struct Queued {
    size_t services, endpoints;
  };
  void OnChangeQueued(absl::Time when, size_t services, size_t endpoints) override {
    absl::MutexLock lock(&mu_);
    queued_.push_back({services, endpoints});
  }
  void OnSync(const SyncStats& stats) override {
    absl::MutexLock lock(&mu_);
    syncs_.push_back(stats);
  }
  void OnNode(const std::optional<k8s::Node>& node) override {
    absl::MutexLock lock(&mu_);
    nodes_.push_back(node);
  }

  // Waits for the first sync reported that |match|es (any sync when
  // null); syncs with nothing to do may come between (the Node's arrival
  // wakes the proxier too).
  std::optional<SyncStats> WaitForSync(std::function<bool(const SyncStats&)> match = nullptr) {
    absl::MutexLock lock(&mu_);
    std::optional<SyncStats> found;
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (; next_ < syncs_.size() && !found.has_value(); ++next_) {
        if (!match || match(syncs_[next_])) found = syncs_[next_];
      }
      return found.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(10));
    return found;
  }
  std::vector<Queued> queued() {
    absl::MutexLock lock(&mu_);
    return queued_;
  }
  std::vector<std::optional<k8s::Node>> nodes() {
    absl::MutexLock lock(&mu_);
    return nodes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Queued> queued_ ABSL_GUARDED_BY(mu_);
  std::vector<SyncStats> syncs_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;  // The first sync WaitForSync() has not looked at.
  std::vector<std::optional<k8s::Node>> nodes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void PrintTo(const HealthCheckService& c, std::ostream* os) {
  *os << c.namespace_ << "/" << c.name << " port " << c.node_port << " local " << c.local_endpoints;
}

namespace {

L4Address L4(const char* text) { return L4Address::Parse(text).value(); }
absl::Time Seconds(int64_t s) { return absl::FromUnixSeconds(s); }
bool Eventually(const std::function<bool()>& condition) {
  for (absl::Time end = absl::Now() + absl::Seconds(10); absl::Now() < end; absl::SleepFor(absl::Milliseconds(2))) {
    if (condition()) return true;
  }
  return condition();
}
std::string Rfc3339(absl::Time t) { return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()); }

// default/web: LoadBalancer, externalTrafficPolicy Local, NodePort 30080,
// health check node port 32001. default/api: internalTrafficPolicy Local.
json Web() {
  return WithHealthCheckNodePort(
      WithExternalTrafficPolicyLocal(WithIngress(
          WithNodePorts(MakeService("default", "web", {"10.96.0.10"}, {{"http", 80, "TCP", 8080}}), {30080}),
          {{"198.51.100.7", ""}})),
      32001);
}
json Api() { return WithInternalTrafficPolicyLocal(MakeService("default", "api", {"10.96.0.20"}, {{"grpc", 9000}})); }
json WebSlice(std::vector<k8s::testing::EndpointSpec> endpoints, absl::Time trigger) {
  json slice = MakeSlice("default", "web-1", "web", "IPv4", {{"http", 8080}}, endpoints);
  slice["metadata"]["annotations"][k8s::kAnnotationLastChangeTriggerTime] = Rfc3339(trigger);
  return slice;
}
json ApiSlice() {
  return MakeSlice("default", "api-1", "api", "IPv4", {{"grpc", 9001}}, {Ready("10.244.2.9", "node-b")});
}

class ApiWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = std::move(Reconciler::Create(&socket_maps_).value());
    external_ = std::move(Reconciler::Create(&external_maps_).value());
  }
  void Start() {
    ApiWatcherOptions options;
    options.node_name = kNode;
    options.views = {.nodeport_addresses = {IpAddress::Parse("192.168.1.10").value()}, .localhost_nodeports = false};
    options.proxier = {.min_sync_period = absl::ZeroDuration(), .sync_period = absl::Hours(1)};
    options.observer = &observer_;
    absl::StatusOr<std::unique_ptr<ApiWatcher>> w = ApiWatcher::Start(
        &api_, ProxierTargets{.socket = socket_.get(), .external = external_.get(), .policies = &policies_},
        std::move(options));
    ASSERT_TRUE(w.ok()) << w.status();
    watcher_ = *std::move(w);
  }

  MemoryApi api_;
  RecordingObserver observer_;
  FakeLbMaps socket_maps_, external_maps_;
  InMemoryPolicyMaps policies_;
  std::unique_ptr<Reconciler> socket_, external_;
  std::unique_ptr<ApiWatcher> watcher_;
};

TEST_F(ApiWatcherTest, RefusesHalfAnExternalView) {
  ApiWatcherOptions options;
  options.node_name = kNode;
  EXPECT_FALSE(
      ApiWatcher::Start(&api_, ProxierTargets{.socket = socket_.get(), .external = external_.get()}, options).ok());
  EXPECT_FALSE(ApiWatcher::Start(&api_, ProxierTargets{.socket = socket_.get(), .policies = &policies_}, options).ok());
  EXPECT_FALSE(ApiWatcher::Start(&api_, ProxierTargets{}, options).ok());
}

TEST_F(ApiWatcherTest, ProgramsBothViewsAndReportsEverySync) {
  const absl::Time later = absl::Now() + absl::Hours(1);  // After the tracker's start: reported.
  const absl::Time first_trigger = Seconds(absl::ToUnixSeconds(later));
  api_.SetList(kServices, {Web(), Api()});
  api_.SetList(kSlices,
               {WebSlice({Ready("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")}, first_trigger), ApiSlice()});
  api_.SetList(kNodes, {MakeNode(kNode, "zone-a")});
  ASSERT_NO_FATAL_FAILURE(Start());

  std::optional<SyncStats> first = observer_.WaitForSync();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->report.full);
  EXPECT_EQ(first->service_changes, 2u);
  EXPECT_EQ(first->endpoint_changes, 2u);
  EXPECT_THAT(first->trigger_times, ElementsAre(first_trigger));
  EXPECT_EQ(first->no_local_endpoints_internal, 1u) << "api: internal Local, its endpoint elsewhere";
  EXPECT_EQ(first->no_local_endpoints_external, 0u);
  EXPECT_THAT(first->health_checks, ElementsAre(HealthCheckService{"default", "web", 32001, 1}));
  EXPECT_LE(absl::Now() - first->finished, absl::Seconds(10));

  EXPECT_TRUE(
      MapsHold(socket_maps_, {{L4("10.96.0.10:80/TCP"), {L4("10.244.1.5:8080/TCP"), L4("10.244.2.6:8080/TCP")}},
                              {L4("10.96.0.20:9000/TCP"), {}},
                              {L4("192.168.1.10:30080/TCP"), {L4("10.244.1.5:8080/TCP"), L4("10.244.2.6:8080/TCP")}},
                              {L4("198.51.100.7:80/TCP"), {L4("10.244.1.5:8080/TCP"), L4("10.244.2.6:8080/TCP")}}}));
  EXPECT_TRUE(MapsHold(external_maps_, {{L4("192.168.1.10:30080/TCP"), {L4("10.244.1.5:8080/TCP")}},
                                        {L4("198.51.100.7:80/TCP"), {L4("10.244.1.5:8080/TCP")}}}));
  EXPECT_EQ(policies_.Applied(), (DesiredPolicies{{L4("192.168.1.10:30080/TCP"), {.flags = LB_POL_F_PRESERVE_SOURCE}},
                                                  {L4("198.51.100.7:80/TCP"), {.flags = LB_POL_F_PRESERVE_SOURCE}}}));
  EXPECT_THAT(observer_.queued(), IsEmpty()) << "the initial LIST is not a queued change";

  // The local endpoint goes away.
  const absl::Time second_trigger = first_trigger + absl::Seconds(5);
  api_.Push(kSlices, k8s::WatchEventType::kModified, WebSlice({Ready("10.244.2.6", "node-b")}, second_trigger));
  std::optional<SyncStats> second =
      observer_.WaitForSync([](const SyncStats& s) { return s.endpoint_changes + s.service_changes > 0; });
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->report.full);
  EXPECT_EQ(second->service_changes, 0u);
  EXPECT_EQ(second->endpoint_changes, 1u);
  EXPECT_THAT(second->trigger_times, ElementsAre(second_trigger));
  EXPECT_EQ(second->no_local_endpoints_external, 1u) << "web: external Local, its endpoint elsewhere";
  EXPECT_THAT(second->health_checks, ElementsAre(HealthCheckService{"default", "web", 32001, 0}));
  EXPECT_THAT(observer_.queued(), ElementsAre(::testing::FieldsAre(0u, 1u)));
  EXPECT_TRUE(MapsHold(external_maps_, {{L4("192.168.1.10:30080/TCP"), {}}, {L4("198.51.100.7:80/TCP"), {}}}));
  const FrontendPolicy drop{.flags = LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND};
  EXPECT_EQ(policies_.Applied(),
            (DesiredPolicies{{L4("192.168.1.10:30080/TCP"), drop}, {L4("198.51.100.7:80/TCP"), drop}}));

  // The Node is handed on as it is, and its deletion too.
  auto last_node = [&]() -> std::optional<std::optional<k8s::Node>> {
    std::vector<std::optional<k8s::Node>> nodes = observer_.nodes();
    if (nodes.empty()) return std::nullopt;
    return nodes.back();
  };
  ASSERT_TRUE(Eventually([&] { return last_node().has_value(); }));
  ASSERT_TRUE(last_node()->has_value());
  EXPECT_EQ((*last_node())->zone, "zone-a");
  api_.Push(kNodes, k8s::WatchEventType::kDeleted, MakeNode(kNode, "zone-a"));
  EXPECT_TRUE(Eventually([&] { return !last_node()->has_value(); }));
}

TEST_F(ApiWatcherTest, ANewNodeAddressMovesTheNodePortsInBothViews) {
  api_.SetList(kServices, {Web(), Api()});
  api_.SetList(kSlices, {WebSlice({Ready("10.244.1.5", kNode)}, absl::Now()), ApiSlice()});
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(observer_.WaitForSync().has_value());
  const std::vector<L4Address> local = {L4("10.244.1.5:8080/TCP")};
  ASSERT_TRUE(MapsHold(external_maps_, {{L4("192.168.1.10:30080/TCP"), local}, {L4("198.51.100.7:80/TCP"), local}}));

  // The node's address moves from .10 to .11 (DHCP, a re-IP): NodePorts
  // follow; ClusterIPs and LB IPs are not rewritten.
  socket_maps_.ClearOps();
  watcher_->SetNodePortAddresses({IpAddress::Parse("192.168.1.11").value()});
  ASSERT_TRUE(Eventually([&] {
    return MapsHold(external_maps_, {{L4("192.168.1.11:30080/TCP"), local}, {L4("198.51.100.7:80/TCP"), local}});
  }));
  EXPECT_TRUE(Eventually([&] {
    return MapsHold(socket_maps_, {{L4("10.96.0.10:80/TCP"), local},
                                   {L4("10.96.0.20:9000/TCP"), {}},
                                   {L4("192.168.1.11:30080/TCP"), local},
                                   {L4("198.51.100.7:80/TCP"), local}});
  }));
  for (const std::string& op : socket_maps_.ops()) {
    EXPECT_EQ(op.find("10.96.0."), std::string::npos) << "a ClusterIP was rewritten: " << op;
  }
  EXPECT_EQ(policies_.Applied(), (DesiredPolicies{{L4("192.168.1.11:30080/TCP"), {.flags = LB_POL_F_PRESERVE_SOURCE}},
                                                  {L4("198.51.100.7:80/TCP"), {.flags = LB_POL_F_PRESERVE_SOURCE}}}));
}

TEST_F(ApiWatcherTest, WithoutExternalTargetsOnlyTheSocketViewIsWritten) {
  api_.SetList(kServices, {Web()});
  api_.SetList(kSlices, {WebSlice({Ready("10.244.1.5", kNode)}, absl::Now())});
  ApiWatcherOptions options;
  options.node_name = kNode;
  options.views = {.nodeport_addresses = {IpAddress::Parse("192.168.1.10").value()}, .localhost_nodeports = false};
  options.proxier = {.min_sync_period = absl::ZeroDuration(), .sync_period = absl::Hours(1)};
  options.observer = &observer_;
  absl::StatusOr<std::unique_ptr<ApiWatcher>> w = ApiWatcher::Start(&api_, socket_.get(), std::move(options));
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(observer_.WaitForSync().has_value());
  EXPECT_TRUE(MapsHold(socket_maps_, {{L4("10.96.0.10:80/TCP"), {L4("10.244.1.5:8080/TCP")}},
                                      {L4("192.168.1.10:30080/TCP"), {L4("10.244.1.5:8080/TCP")}},
                                      {L4("198.51.100.7:80/TCP"), {L4("10.244.1.5:8080/TCP")}}}));
  EXPECT_EQ(external_maps_.service_entries(), 0u);
  EXPECT_THAT(policies_.log(), IsEmpty());
}

}  // namespace
}  // namespace bpfproxy
