// Debian's Abseil (20220623) has its own absl::string_view, distinct from
// std::string_view; absl APIs (StrCat, StartsWith, ...) take only the former.
#ifndef BPFPROXY_E2E_APISERVER_STRING_COMPAT_H_
#define BPFPROXY_E2E_APISERVER_STRING_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace bpfproxy::e2e::apiserver {

inline absl::string_view AbslView(std::string_view text) { return absl::string_view(text.data(), text.size()); }

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_STRING_COMPAT_H_
