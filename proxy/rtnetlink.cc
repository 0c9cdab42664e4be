#include "proxy/rtnetlink.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/unique_fd.h"

namespace bpfproxy {
namespace {

absl::Status NetlinkError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat("rtnetlink ", what, ": ", std::strerror(err)));
}

}  // namespace

absl::Status RtnetlinkDump(uint16_t type, const void* request, size_t request_len, absl::string_view what,
                           absl::FunctionRef<void(const nlmsghdr&)> on_message) {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return NetlinkError(absl::StrCat("socket for ", what), errno);
  struct {
    nlmsghdr header;
    char payload[64];
  } message{};
  if (request_len > sizeof(message.payload)) return absl::InvalidArgumentError("rtnetlink request too long");
  message.header.nlmsg_len = NLMSG_LENGTH(request_len);
  message.header.nlmsg_type = type;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = 1;
  std::memcpy(NLMSG_DATA(&message.header), request, request_len);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd.get(), &message, message.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) < 0) {
    return NetlinkError(absl::StrCat("request ", what), errno);
  }
  std::vector<nlmsghdr> buffer(32768 / sizeof(nlmsghdr));  // nlmsghdr-aligned storage.
  while (true) {
    // Peek at the datagram's size first: a dump message is never cut short.
    ssize_t size = recv(fd.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC);
    if (size < 0 && errno == EINTR) continue;
    if (size < 0) return NetlinkError(absl::StrCat("read ", what), errno);
    if (static_cast<size_t>(size) > buffer.size() * sizeof(nlmsghdr)) buffer.resize(size / sizeof(nlmsghdr) + 1);
    ssize_t n = recv(fd.get(), buffer.data(), buffer.size() * sizeof(nlmsghdr), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return NetlinkError(absl::StrCat("read ", what), errno);
    int left = static_cast<int>(n);
    for (const nlmsghdr* h = buffer.data(); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return absl::OkStatus();
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (err->error == 0) continue;
        return NetlinkError(what, -err->error);
      }
      on_message(*h);
    }
  }
}

void ForEachRtattr(const rtattr* begin, int len, absl::FunctionRef<void(const rtattr&)> on_attr) {
  for (const rtattr* a = begin; RTA_OK(a, len); a = RTA_NEXT(a, len)) on_attr(*a);
}

std::string RtattrString(const rtattr& attr) {
  const char* text = static_cast<const char*>(RTA_DATA(&attr));
  return std::string(text, strnlen(text, RTA_PAYLOAD(&attr)));
}

}  // namespace bpfproxy
