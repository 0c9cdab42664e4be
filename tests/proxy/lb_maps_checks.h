// Checks on the LB maps' contents that the reconciler tests share, on
// FakeLbMaps and on the kernel's maps: the datapath invariant after every
// single write (SlotsResolve, enforced by WatchedLbMaps) and the exact final
// state after a successful Sync (MapsHold). They walk whole maps, so they are
// for test-sized maps only.
#ifndef BPFPROXY_TESTS_PROXY_LB_MAPS_CHECKS_H_
#define BPFPROXY_TESTS_PROXY_LB_MAPS_CHECKS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "proxy/ip_address.h"
#include "proxy/lb_maps.h"
#include "proxy/reconciler.h"

namespace bpfproxy {

// The datapath invariant (make before break): for every master,
//  - slots 1..count exist and carry the master's service ID,
//  - each points at a backend that exists and whose value carries its ID,
//  - and that backend is a member of the master's service ID;
// every membership points at a backend that exists; no two masters share a
// service ID. Holds after every single write, successful or not.
//
// Not required here: that a membership's service ID has a master. The write
// order itself breaks it for a moment: a new frontend's memberships are
// written before its master, and a removed frontend's master goes before
// its memberships. Such a membership is unreachable (the datapath reads
// the service ID from a master), and MapsHold rules it out once Sync is done.
::testing::AssertionResult SlotsResolve(const LbMaps& maps);

// The maps hold exactly |desired|: one master per frontend, with a service ID
// no other master has, whose slots 1..count carry that ID and resolve to the
// frontend's backends (as a set, each once); memberships of that ID are
// exactly those backends; and no other entry: no slot past its count or
// without a master, no membership of a service ID no master has, no backend
// nothing references. IDs and slot order are not compared.
::testing::AssertionResult MapsHold(const LbMaps& maps, const DesiredFrontends& desired);

// DumpLines(maps), or no lines plus a test failure if reading the maps fails.
std::vector<std::string> Dump(const LbMaps& maps);

// Frontend -> sorted, de-duplicated backends: compares desired and applied
// state where slot order does not matter.
using FrontendSets = absl::btree_map<L4Address, std::vector<L4Address>>;
FrontendSets AsSets(const DesiredFrontends& frontends);

// Forwards to another LbMaps and watches every write: counts the writes and,
// unless told not to, fails the current test when a write breaks
// SlotsResolve (checked after each single write).
class WatchedLbMaps : public LbMaps {
 public:
  explicit WatchedLbMaps(LbMaps& inner, bool check_each_write = true)
      : inner_(inner), check_each_write_(check_each_write) {}

  absl::Status UpdateService(const lb_service_key& key, const lb_service_value& value) override;
  absl::Status DeleteService(const lb_service_key& key) override;
  absl::Status UpdateBackend(uint32_t id, const lb_backend_value& value) override;
  absl::Status DeleteBackend(uint32_t id) override;
  absl::Status UpdateMember(const lb_member_key& key) override;
  absl::Status DeleteMember(const lb_member_key& key) override;
  absl::Status ForEachService(ServiceVisitor visit) const override { return inner_.ForEachService(visit); }
  absl::Status ForEachBackend(BackendVisitor visit) const override { return inner_.ForEachBackend(visit); }
  absl::Status ForEachMember(MemberVisitor visit) const override { return inner_.ForEachMember(visit); }
  LbMapCapacity capacity() const override { return inner_.capacity(); }

  size_t writes() const { return writes_; }

 private:
  absl::Status Watch(absl::string_view op, absl::Status status);

  LbMaps& inner_;
  bool check_each_write_;
  size_t writes_ = 0;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_TESTS_PROXY_LB_MAPS_CHECKS_H_
