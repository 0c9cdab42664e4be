#include "proxy/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace bpfproxy::log {
namespace {
std::atomic<int> verbosity{0};
std::atomic<Severity> min_severity{Severity::kInfo};
}  // namespace

void SetVerbosity(int v) { verbosity = v; }
int Verbosity() { return verbosity; }
void SetMinSeverity(Severity severity) { min_severity = severity; }

Message::~Message() {
  if (severity_ < min_severity) return;
  static constexpr char kLetters[] = {'I', 'W', 'E'};
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  const char* base = std::strrchr(file_, '/');
  // One fprintf per line, so lines from different threads do not interleave.
  std::fprintf(stderr, "%c%02d%02d %02d:%02d:%02d.%06ld %7d %s:%d] %s\n", kLetters[static_cast<int>(severity_)],
               t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<long>(tv.tv_usec),
               static_cast<int>(gettid()), base ? base + 1 : file_, line_, out_.str().c_str());
}

}  // namespace bpfproxy::log
