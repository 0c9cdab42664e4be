// A minimal rtnetlink dump: one RTM_GET* request with NLM_F_DUMP, every
// reply message handed to a callback. Acts on the calling thread's network
// namespace.
#ifndef BPFPROXY_PROXY_RTNETLINK_H_
#define BPFPROXY_PROXY_RTNETLINK_H_

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace bpfproxy {

// Sends |type| (RTM_GETLINK, RTM_GETADDR, RTM_GETQDISC, ...) with the
// |request_len| bytes of |request| (ifinfomsg, ifaddrmsg, tcmsg...) as a
// dump, and calls |on_message| for every message until NLMSG_DONE. An
// error names |what|.
absl::Status RtnetlinkDump(uint16_t type, const void* request, size_t request_len, absl::string_view what,
                           absl::FunctionRef<void(const nlmsghdr&)> on_message);

// Calls |on_attr| for every attribute in the |len| bytes at |begin|.
void ForEachRtattr(const rtattr* begin, int len, absl::FunctionRef<void(const rtattr&)> on_attr);

// A string attribute's text, without the trailing NUL.
std::string RtattrString(const rtattr& attr);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_RTNETLINK_H_
