// Minimal klog-format logging (the format kube-proxy's logs use):
//   I1128 00:26:36.123456   12345 file.cc:42] message
// KLOG(INFO) << ...; VLOG(2) << ... is printed when --v >= 2.
#ifndef BPFPROXY_PROXY_LOG_H_
#define BPFPROXY_PROXY_LOG_H_

#include <sstream>

namespace bpfproxy::log {

enum class Severity { kInfo, kWarning, kError };

void SetVerbosity(int v);
int Verbosity();
// Messages below |severity| are not printed (default: all).
void SetMinSeverity(Severity severity);

class Message {
 public:
  Message(Severity severity, const char* file, int line) : severity_(severity), file_(file), line_(line) {}
  ~Message();
  std::ostream& stream() { return out_; }

 private:
  Severity severity_;
  const char* file_;
  int line_;
  std::ostringstream out_;
};

}  // namespace bpfproxy::log

#define BPFP_LOG_INFO ::bpfproxy::log::Severity::kInfo
#define BPFP_LOG_WARNING ::bpfproxy::log::Severity::kWarning
#define BPFP_LOG_ERROR ::bpfproxy::log::Severity::kError
#define KLOG(severity) ::bpfproxy::log::Message(BPFP_LOG_##severity, __FILE__, __LINE__).stream()
#define VLOG(level) \
  if (::bpfproxy::log::Verbosity() >= (level)) KLOG(INFO)

#endif  // BPFPROXY_PROXY_LOG_H_
