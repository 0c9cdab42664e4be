// A strict parser of the Prometheus text exposition format (0.0.4), for
// tests: every line must be a HELP, a TYPE or a sample of the family last
// declared, so a scrape that a Prometheus server would reject fails here.
#ifndef BPFPROXY_TESTS_METRICS_EXPOSITION_PARSER_H_
#define BPFPROXY_TESTS_METRICS_EXPOSITION_PARSER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bpfproxy::testing_util {

struct ParsedSample {
  std::string name;  // With its suffix: x_bucket, x_sum, x_count.
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct ParsedFamily {
  std::string help;
  std::string type;  // "counter", "gauge", "histogram", ...
  std::vector<ParsedSample> samples;
  // The sample named |name| whose labels include every one of |labels|;
  // nullptr if none.
  const ParsedSample* Find(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
  // The "le" bounds of the histogram's buckets for the series with |labels|, in order.
  std::vector<std::string> BucketBounds(const std::map<std::string, std::string>& labels = {}) const;
};

using ParsedExposition = std::map<std::string, ParsedFamily>;

absl::StatusOr<ParsedExposition> ParseExposition(absl::string_view text);

}  // namespace bpfproxy::testing_util

#endif  // BPFPROXY_TESTS_METRICS_EXPOSITION_PARSER_H_
